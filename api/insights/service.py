"""Explanations, forecasts and anomalies of cost, read from the serving snapshot's daily marts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path

import duckdb

from api import money
from api.cost_data.period_costs import PeriodCosts
from api.insights import explain, forecast
from api.insights.schemas import (
    Components,
    CostAnomalies,
    CostAnomaly,
    CostForecast,
    Explanation,
    SegmentChange,
    UnpricedEvents,
)
from api.periods import DateRange, Window, iso_ms, local_midnight
from core.sql import dbt_macro, load_sql

_QUERIES = Path(__file__).parent / "queries"
_US = timedelta(microseconds=1)
# what a segment's keys are called, by `by` (None: model and usage type)
SEGMENT_KEYS = {None: ("model", "usageType"), "model": ("model",), "provider": ("provider",),
                "feature": ("feature",)}  # fmt: skip


@cache
def _explain_sql() -> str:
    """The segments of explain_segments.sql with their parts of the change, by the macro the
    mart fct_monthly_cost_explanations builds with."""
    parts = dbt_macro("explain", "explain_components")("segments")
    return (
        f"with segments as ({load_sql(_QUERIES, 'explain_segments')})\n"
        "select first_key, second_key, status, base_units, base_cost_usd, current_units,\n"
        f"    current_cost_usd, {', '.join(f'{name}_usd' for name in explain.COMPONENTS)}\n"
        f"from ({parts}) as explained"
    )


def explanation(
    con: duckdb.DuckDBPyConnection, org: str, dates: DateRange, base: DateRange, by: str | None
) -> Explanation:
    params = {
        "org": org,
        "first_date": dates.start,
        "last_date": dates.end,
        "base_first": base.start,
        "base_last": base.end,
    }
    base_total, current_total, base_unpriced, current_unpriced = con.execute(
        load_sql(_QUERIES, "explain_totals"), params
    ).fetchone()
    rows = con.execute(_explain_sql(), {**params, "by": by}).fetchall()
    segments = [explain.Segment(*row) for row in rows]
    current, previous = money.usd(current_total), money.usd(base_total)
    change = current - previous
    parts = {
        name: sum((Fraction(s.parts[n]) for s in segments), Fraction(0))
        for n, name in enumerate(explain.COMPONENTS)
    }
    shown = explain.rounded(parts, change)
    names = SEGMENT_KEYS[by]
    changes = [
        SegmentChange(
            segment=dict(zip(names, s.key, strict=False)),
            status=s.status,
            baseUnits=float(s.base_units),
            currentUnits=float(s.units),
            baseCost=float(money.usd(s.base_cost)),
            currentCost=float(money.usd(s.cost)),
            change=float(money.usd(s.cost) - money.usd(s.base_cost)),
        )
        for s in sorted(segments, key=lambda s: (-abs(s.cost - s.base_cost), str(s.key)))
        if s.status != "none" or s.cost or s.base_cost
    ]
    return Explanation(
        startDate=dates.start.isoformat(),
        endDate=dates.end.isoformat(),
        baseStartDate=base.start.isoformat(),
        baseEndDate=base.end.isoformat(),
        currentCost=float(current),
        baseCost=float(previous),
        change=float(change),
        components=Components(**{name: float(value) for name, value in shown.items()}),
        unpricedEvents=UnpricedEvents(current=int(current_unpriced), base=int(base_unpriced)),
        segments=changes,
    )


METHOD = (
    "same-weekday mean of the last 28 days for each day left (today pro rata); band: 10th and "
    "90th percentile of backtested errors over as many days"
)


def forecast_days(con: duckdb.DuckDBPyConnection, org: str, today: date) -> dict:
    """The organization's rows of fct_daily_cost_forecasts a forecast made today reads."""
    rows = con.execute(
        load_sql(_QUERIES, "forecast_days"), {"org": org, "until": today + timedelta(days=7)}
    ).fetchall()
    return {day: forecast.Day(*row) for day, *row in rows}


def cost_forecast(
    days: dict, costs: PeriodCosts, org: str, window: Window, now: datetime
) -> CostForecast:
    """`days`: forecast_days of today."""
    zone = window.zone
    today = now.astimezone(zone).date()
    day_start, day_end = (
        local_midnight(today, zone),
        local_midnight(today + timedelta(days=1), zone),
    )
    left = Fraction(int((day_end - now) / _US), int((day_end - day_start) / _US))
    actual = costs.cost(org, window.start, now + _US)
    found = forecast.forecast(
        days,
        today,
        left,
        (window.end - _US).astimezone(zone).date(),
        actual,
    )
    band = (None, None) if found.low is None else (found.low, found.high)
    return CostForecast(
        periodStart=iso_ms(window.period_start, zone),
        periodEnd=iso_ms(window.period_end, zone),
        actualToDate=float(money.usd(actual)),
        forecast=float(explain.cents(found.forecast)),
        low=None if band[0] is None else float(explain.cents(band[0])),
        high=None if band[1] is None else float(explain.cents(band[1])),
        method=METHOD,
        historyDays=found.history_days,
        insufficientHistory=found.low is None,
    )


SEGMENT_NAMES = {None: None, "model": "model", "provider": "provider", "feature": "feature",
                 "end_user": "endUser"}  # fmt: skip


def cost_anomalies(
    con: duckdb.DuckDBPyConnection, org: str, dates: DateRange, by: str | None, min_impact: Decimal
) -> CostAnomalies:
    rows = con.execute(
        load_sql(_QUERIES, "anomalies"),
        {"org": org, "dimension": by or "organization", "first_date": dates.start,
         "last_date": dates.end, "min_impact": min_impact},
    ).fetchall()  # fmt: skip
    name = SEGMENT_NAMES[by]
    return CostAnomalies(
        startDate=dates.start.isoformat(),
        endDate=dates.end.isoformat(),
        minImpact=float(min_impact),
        anomalies=[
            CostAnomaly(
                date=day.isoformat(),
                segment={} if name is None else {name: segment},
                expected=float(explain.cents(expected)),
                actual=float(explain.cents(actual)),
                impact=float(explain.cents(impact)),
                score=None if score is None else float(explain.cents(Fraction(score))),
            )
            for segment, day, expected, actual, impact, score in rows
        ],
    )
