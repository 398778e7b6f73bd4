"""Organization-wide cost answers, read from the serving snapshot."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from api import money
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
from api.sql import query

_HERE = str(Path(__file__).parent)


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _period_parts(name: str, start: datetime, end: datetime) -> dict[str, datetime]:
    """start <= event_at < end as whole hours plus a partial hour at the head and the tail
    (a part with nothing in it is an empty range)."""
    start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    hours_start = start if start == _hour_floor(start) else _hour_floor(start) + timedelta(hours=1)
    hours_end = _hour_floor(end)
    if hours_start >= hours_end:  # inside one hour (or two partial ones): all from the fact
        hours_start = hours_end = start
        head, tail = (start, end), (end, end)
    else:
        head, tail = (start, hours_start), (hours_end, end)
    return {
        f"{name}_hours_start": hours_start,
        f"{name}_hours_end": hours_end,
        f"{name}_head_from": head[0],
        f"{name}_head_to": head[1],
        f"{name}_tail_from": tail[0],
        f"{name}_tail_to": tail[1],
    }


def summary(con: duckdb.DuckDBPyConnection, org: str, window: Window) -> CostSummary:
    current, previous = con.execute(
        query(_HERE, "period_costs"),
        {
            "org": org,
            **_period_parts("current", window.start, window.end),
            **_period_parts("previous", window.previous_start, window.start),
        },
    ).fetchone()
    total, previous = money.usd(current), money.usd(previous)
    amount, percent = money.change(total, previous)
    return CostSummary(
        totalCost=float(total),
        previousPeriodCost=float(previous),
        changeAmount=float(amount),
        changePercent=None if percent is None else float(percent),
        periodStart=iso_ms(window.period_start),
        periodEnd=iso_ms(window.period_end),
    )


def _breakdown(con, org: str, dates: DateRange, by: str) -> list[tuple[str, Decimal, int, Decimal]]:
    rows = con.execute(
        query(_HERE, f"breakdown_by_{by}"),
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
            query(_HERE, "trend"),
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
