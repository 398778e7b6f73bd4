"""One end user's costs, read from the serving snapshot."""

from __future__ import annotations

from pathlib import Path

import duckdb

from api import money
from api.cost_data.schemas import ModelCost
from api.end_user_costs.schemas import EndUserModelBreakdown, EndUserSummary
from api.errors import EndUserNotFound
from api.periods import DateRange, iso_ms
from core.sql import load_sql

_QUERIES = Path(__file__).parent / "queries"


def end_user_id(con: duckdb.DuckDBPyConnection, org: str, external_id: str) -> str:
    """Tallyhouse's id for an end user this organization has seen; 404 otherwise."""
    row = con.execute(
        load_sql(_QUERIES, "end_user"), {"org": org, "external_id": external_id}
    ).fetchone()
    if row is None:
        raise EndUserNotFound(f"End user not found: {external_id}")
    return "euid_" + row[0][:12]


def _cost(con, org: str, external_id: str, dates: DateRange):
    return con.execute(
        load_sql(_QUERIES, "end_user_cost"),
        {
            "org": org,
            "external_id": external_id,
            "start_date": dates.start,
            "end_date": dates.end,
        },
    ).fetchone()[0]


def summary(
    con: duckdb.DuckDBPyConnection, org: str, external_id: str, dates: DateRange
) -> EndUserSummary:
    euid = end_user_id(con, org, external_id)
    total = money.usd(_cost(con, org, external_id, dates))
    previous = money.usd(_cost(con, org, external_id, dates.previous()))
    amount, percent = money.change(total, previous)
    return EndUserSummary(
        endUserId=euid,
        externalId=external_id,
        totalCost=float(total),
        previousPeriodCost=float(previous),
        changeAmount=float(amount),
        changePercent=None if percent is None else float(percent),
        periodStart=iso_ms(dates.start_instant(), dates.zone),
        periodEnd=iso_ms(dates.end_instant(), dates.zone),
    )


def by_model(
    con: duckdb.DuckDBPyConnection, org: str, external_id: str, dates: DateRange
) -> EndUserModelBreakdown:
    euid = end_user_id(con, org, external_id)
    rows = con.execute(
        load_sql(_QUERIES, "end_user_by_model"),
        {
            "org": org,
            "external_id": external_id,
            "start_date": dates.start,
            "end_date": dates.end,
        },
    ).fetchall()
    return EndUserModelBreakdown(
        endUserId=euid,
        externalId=external_id,
        breakdown=[
            ModelCost(
                model=name,
                totalCost=float(cost),
                eventCount=events,
                percentOfTotal=float(share),
            )
            for name, cost, events, share in money.ranked(rows)
        ],
    )
