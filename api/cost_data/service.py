"""Organization-wide cost answers, read from the serving snapshot."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from api import money
from api.cost_data.period_costs import PeriodCosts
from api.cost_data.schemas import (
    CostSummary,
    CostTrend,
    ModelBreakdown,
    ModelCost,
    ProviderBreakdown,
    ProviderCost,
    TrendPoint,
)
from api.periods import DateRange, Window, iso_ms
from core.sql import load_sql

_QUERIES = Path(__file__).parent / "queries"


def summary(costs: PeriodCosts, org: str, window: Window) -> CostSummary:
    """The window's cost against the period before it (period_costs.py: from memory once
    the organization's hours and the edge hours are loaded)."""
    total = money.usd(costs.cost(org, window.start, window.end))
    previous = money.usd(costs.cost(org, window.previous_start, window.start))
    amount, percent = money.change(total, previous)
    return CostSummary(
        totalCost=float(total),
        previousPeriodCost=float(previous),
        changeAmount=float(amount),
        changePercent=None if percent is None else float(percent),
        periodStart=iso_ms(window.period_start, window.zone),
        periodEnd=iso_ms(window.period_end, window.zone),
    )


def _breakdown(con, org: str, dates: DateRange, by: str) -> list[tuple[str, Decimal, int, Decimal]]:
    rows = con.execute(
        load_sql(_QUERIES, f"breakdown_by_{by}"),
        {
            "org": org,
            "start_date": dates.start,
            "end_date": dates.end,
        },
    ).fetchall()
    return money.ranked(rows)


def by_model(con: duckdb.DuckDBPyConnection, org: str, dates: DateRange) -> ModelBreakdown:
    return ModelBreakdown(
        breakdown=[
            ModelCost(
                model=name, totalCost=float(cost), eventCount=events, percentOfTotal=float(share)
            )
            for name, cost, events, share in _breakdown(con, org, dates, "model")
        ]
    )


def by_provider(con: duckdb.DuckDBPyConnection, org: str, dates: DateRange) -> ProviderBreakdown:
    return ProviderBreakdown(
        breakdown=[
            ProviderCost(
                provider=name, totalCost=float(cost), eventCount=events, percentOfTotal=float(share)
            )
            for name, cost, events, share in _breakdown(con, org, dates, "provider")
        ]
    )


def _bucket_starts(dates: DateRange, granularity: str) -> list[date]:
    if granularity == "day":
        first, step = dates.start, None
    elif granularity == "week":
        first, step = dates.start - timedelta(days=dates.start.weekday()), None
    else:
        first, step = dates.start.replace(day=1), "month"
    starts, current = [], first
    while current <= dates.end:
        starts.append(current)
        if step == "month":
            current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
        else:
            current += timedelta(days=1 if granularity == "day" else 7)
    return starts


def trend(
    con: duckdb.DuckDBPyConnection, org: str, dates: DateRange, granularity: str
) -> CostTrend:
    rows = {
        bucket: (cost, events)
        for bucket, cost, events in con.execute(
            load_sql(_QUERIES, "trend"),
            {
                "org": org,
                "start_date": dates.start,
                "end_date": dates.end,
                "granularity": granularity,
            },
        ).fetchall()
    }
    series = [
        TrendPoint(
            periodStart=start.isoformat(),
            totalCost=float(money.usd(rows.get(start, (0, 0))[0])),
            eventCount=int(rows.get(start, (0, 0))[1]),
        )
        for start in _bucket_starts(dates, granularity)
    ]
    return CostTrend(
        granularity=granularity,
        startDate=dates.start.isoformat(),
        endDate=dates.end.isoformat(),
        series=series,
    )
