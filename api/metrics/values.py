"""A metric's value for one customer over one timeframe, read from the serving snapshot.

simple   — the hourly usage mart for whole hours, the events for partial edge hours.
indexed  — the row the last build pre-computed for this slice and this definition version;
           any other timeframe (or a definition newer than the build) on demand, as complex.
complex  — the metric's SQL in the sandbox over the customer's events in the timeframe.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from api.errors import ValidationFailed
from api.metrics.schemas import MetricValue, Precomputation, TimeframeOut
from api.metrics.service import Metric, runnable_sql
from api.metrics.timeframe import Timeframe, Window
from api.periods import iso_ms
from core import metric_sandbox
from core.event_body import ALL_TIME
from core.metric_sql import PRECOMPUTED_DAYS
from core.sql import load_sql

_QUERIES = Path(__file__).parent / "queries"


class MetricQueryFailed(ValidationFailed):
    code = "METRIC_QUERY_FAILED"


class MetricQueryTimedOut(ValidationFailed):
    code = "METRIC_QUERY_TIMEOUT"


def metric_value(
    con: duckdb.DuckDBPyConnection,
    metric: Metric,
    customer_id: str,
    timeframe: Timeframe,
    now: datetime,
    limits: metric_sandbox.SandboxLimits,
) -> MetricValue:
    window = timeframe.window(now)
    if metric.query_type == "simple":
        value = _simple(con, metric, customer_id, window, now)
        return _answer(metric, customer_id, timeframe, window, value, now, precomputed=False)
    if metric.query_type == "indexed":
        row = _precomputed(con, metric, customer_id, timeframe)
        if row is not None:
            value, result_rows, start, end, as_of = row
            if result_rows != 1:
                raise MetricQueryFailed(
                    f"metric query must return exactly one row, not {result_rows}"
                )
            built = Window(_utc(start), _utc(end))
            return _answer(
                metric, customer_id, timeframe, built, value, _utc(as_of), precomputed=True
            )
    value = _on_demand(con, metric, customer_id, window, limits)
    return _answer(metric, customer_id, timeframe, window, value, now, precomputed=False)


def precomputation(con: duckdb.DuckDBPyConnection | None, metric: Metric) -> Precomputation:
    """What the serving snapshot's build did with this indexed metric's current version."""
    row = None
    if con is not None:
        try:
            row = con.execute(
                load_sql(_QUERIES, "precomputation"),
                {"org": metric.organization_id, "metric_id": metric.metric_id},
            ).fetchone()
        except duckdb.CatalogException:  # a snapshot published before dim_metrics existed
            row = None
    if row is None or row[0] != metric.version:
        return Precomputation(status="pending", reason=None, asOf=None)
    _version, precomputed, reason, as_of = row
    status = "precomputed" if precomputed else "on_demand"
    return Precomputation(status=status, reason=reason, asOf=iso_ms(_utc(as_of)))


def slice_key(timeframe: Timeframe) -> str | None:
    """The pre-computed slice this timeframe is exactly, if any."""
    if timeframe.type == "ALL":
        return "ALL"
    if timeframe.type == "RELATIVE":
        return f"RELATIVE:{timeframe.days}" if timeframe.days in PRECOMPUTED_DAYS else None
    start, end = timeframe.start, timeframe.end
    month_start = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    if start == month_start and end == next_month:
        return f"MONTH:{start:%Y-%m}"
    return None


def _bounds(window: Window) -> tuple[datetime, datetime]:
    start = ALL_TIME[0] if window.start is None else _naive(window.start)
    end = ALL_TIME[1] if window.end is None else _naive(window.end)
    return start, end


def _simple(con, metric: Metric, customer_id: str, window: Window, now: datetime):
    start, end = _bounds(window)
    params = {
        "org": metric.organization_id,
        "customer_id": customer_id,
        "event_name": metric.event_name,
        "window_start": start,
        "window_end": end,
    }
    if metric.aggregation_type == "UNIQUE_COUNT":
        return con.execute(load_sql(_QUERIES, "unique_count"), params).fetchone()[0]
    if metric.aggregation_type == "LATEST":
        row = con.execute(load_sql(_QUERIES, "latest_value"), params).fetchone()
        return None if row is None else row[0]
    if metric.aggregation_type == "WEIGHTED_SUM":
        steps = con.execute(load_sql(_QUERIES, "gauge_steps"), params).fetchall()
        return weighted_sum(steps, min(end, _naive(now)))
    hours_start = _ceil_hour(start)
    hours_end = max(end.replace(minute=0, second=0, microsecond=0), hours_start)
    count, total, smallest, largest = con.execute(
        load_sql(_QUERIES, "simple_totals"),
        {**params, "hours_start": hours_start, "hours_end": hours_end},
    ).fetchone()
    return {
        "COUNT": count,
        "SUM": total,
        "MIN": smallest,
        "MAX": largest,
        "AVG": Decimal(total) / count if count else None,
    }[metric.aggregation_type]


MICROSECONDS_PER_HOUR = Decimal(3_600_000_000)


def weighted_sum(steps: list[tuple[datetime, Decimal]], end: datetime) -> Decimal:
    """A gauge's time-weighted sum in value-hours: each step's value, held from its instant to
    the next step's (the last one's to `end`). Before the first step the gauge counts 0; an
    empty list is 0."""
    total = Decimal(0)
    for (at, value), (until, _) in zip(steps, [*steps[1:], (end, None)][: len(steps)], strict=True):
        held = max(until - at, timedelta(0))
        micros = (held.days * 86_400 + held.seconds) * 1_000_000 + held.microseconds
        total += value * micros / MICROSECONDS_PER_HOUR
    return total


def _precomputed(con, metric: Metric, customer_id: str, timeframe: Timeframe):
    key = slice_key(timeframe)
    if key is None:
        return None
    return con.execute(
        load_sql(_QUERIES, "precomputed_value"),
        {
            "org": metric.organization_id,
            "metric_id": metric.metric_id,
            "definition_version": metric.version,
            "customer_id": customer_id,
            "slice_key": key,
        },
    ).fetchone()


def _on_demand(con, metric: Metric, customer_id: str, window: Window, limits):
    # checked at create and update; checked again, for nothing in the store is trusted
    runnable = runnable_sql(metric.sql_definition)
    start, end = _bounds(window)
    events = con.sql(
        metric_sandbox.FILTERED_EVENTS_SQL,
        params={
            "org": metric.organization_id,
            "customer_id": customer_id,
            "window_start": start,
            "window_end": end,
        },
    ).to_arrow_table()
    try:  # in a worker process; two at a time per server process
        return metric_sandbox.evaluate(runnable, events, limits)
    except metric_sandbox.MetricQueryTimeout as error:
        raise MetricQueryTimedOut(str(error)) from None
    except metric_sandbox.MetricQueryError as error:
        raise MetricQueryFailed(str(error)) from None


def _answer(
    metric: Metric,
    customer_id: str,
    timeframe: Timeframe,
    window: Window,
    value,
    as_of: datetime,
    *,
    precomputed: bool,
) -> MetricValue:
    return MetricValue(
        id=metric.metric_id,
        name=metric.name,
        customerId=customer_id,
        value=_json_number(value),
        queryType=metric.query_type,
        timeframe=TimeframeOut(**timeframe.describe(window)),
        precomputed=precomputed,
        asOf=iso_ms(as_of),
    )


def _json_number(value) -> int | float | None:
    """Integral values as integers, the rest as the nearest double."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    number = Decimal(value) if isinstance(value, float) else value
    return int(number) if number == number.to_integral_value() else float(value)


def _ceil_hour(moment: datetime) -> datetime:
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(hours=1)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)
