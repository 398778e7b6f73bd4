"""A metric's value for one customer (or the whole organization) over one timeframe, read
from the serving snapshot; with `groupBy`, also one value per value of a metadata key.

simple   — one customer: the hourly usage mart for whole hours, the events for partial edge
           hours; the organization or groups: the events, aggregated per group.
indexed  — the row the last build pre-computed for this slice and this definition version;
           any other timeframe (or a definition newer than the build, the organization's
           value, groups) on demand, as complex.
complex  — the metric's SQL in the sandbox over the events in the timeframe; per group, over
           that group's events.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from api.errors import ValidationFailed
from api.metrics import customer_events, live, organization_values
from api.metrics.customer_events import Customer, CustomerEvents, micros, weighted_sum
from api.metrics.organization_values import OrganizationSeries
from api.metrics.schemas import GroupValue, MetricValue, Precomputation, TimeframeOut
from api.metrics.service import Metric, runnable_sql
from api.metrics.timeframe import Timeframe, Window
from api.periods import iso_ms, naive_utc
from api.snapshot import MISSING, SnapshotView
from core import metric_sandbox
from core.event_body import ALL_TIME
from core.metric_sql import PRECOMPUTED_DAYS
from core.settings import Settings
from core.sql import load_sql, scratch

_QUERIES = Path(__file__).parent / "queries"


class MetricQueryFailed(ValidationFailed):
    code = "METRIC_QUERY_FAILED"


class MetricQueryTimedOut(ValidationFailed):
    code = "METRIC_QUERY_TIMEOUT"


# a metadata key to group by: letters, digits, _ . - (it becomes a JSON path)
GROUP_BY_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_GROUP_BY = re.compile(GROUP_BY_PATTERN)
# groups answered at most: each SQL metric's group is one evaluation in the sandbox
MAX_GROUPS = {"simple": 1000, "indexed": 100, "complex": 100}


def _group_path(group_by: str | None) -> str | None:
    if group_by is None:
        return None
    if not _GROUP_BY.fullmatch(group_by):
        raise ValidationFailed("groupBy must be a metadata key: 1 to 64 letters, digits, _ . -")
    return f'$."{group_by}"'


def _too_many(metric: Metric, groups: int) -> None:
    if groups > MAX_GROUPS[metric.query_type]:
        raise ValidationFailed(
            f"groupBy gives {groups} groups; a {metric.query_type} metric answers at most "
            f"{MAX_GROUPS[metric.query_type]}"
        )


def metric_value(
    view: SnapshotView,
    store: sa.Engine,
    metric: Metric,
    customer_id: str | None,
    timeframe: Timeframe,
    now: datetime,
    limits: metric_sandbox.SandboxLimits,
    group_by: str | None,
    cache_rows: int,
) -> MetricValue:
    """Over the snapshot's events and the events acknowledged since (api/metrics/live.py)."""
    window = timeframe.window(now)
    group_path = _group_path(group_by)
    unbuilt = view.kept(live.UnbuiltEvents)
    if customer_id is not None and group_path is None:  # from the customer's events in memory
        customer = view.kept(CustomerEvents).of(metric.organization_id, customer_id, cache_rows)
        mine = unbuilt.of_customer(store, metric.organization_id, customer_id)
        if metric.query_type == "simple":
            value = _simple(customer, mine, metric, window, now)
            return _answer(metric, customer_id, timeframe, window, value, now, precomputed=False)
        if metric.query_type == "indexed" and not mine.num_rows:
            answer = _precomputed_answer(view, metric, customer_id, timeframe)
            if answer is not None:
                return answer
        value = _evaluate(metric, customer.window(mine, *_bounds(window)), limits)
        return _answer(metric, customer_id, timeframe, window, value, now, precomputed=False)
    if _organization_in_memory(metric, customer_id, group_path):
        kept = view.kept(OrganizationSeries)
        series = kept.of(metric.organization_id, metric.event_name, cache_rows)
        value = _organization(
            kept, series, unbuilt.of(store, metric.organization_id), metric, window
        )
        return _answer(metric, None, timeframe, window, value, now, precomputed=False)
    con = view.connection.cursor()
    try:
        live.attach(con, unbuilt.of(store, metric.organization_id))
        return _organization_value(
            con, metric, customer_id, timeframe, window, now, limits, group_path
        )
    finally:
        con.close()


def _organization_value(con, metric, customer_id, timeframe, window, now, limits, group_path):
    """The organization's value (customer_id None) or a value by group, from SQL over the
    snapshot's events and the unbuilt ones (`metric_event_rows`)."""
    if metric.query_type == "simple":
        value, groups = _simple_grouped(con, metric, customer_id, window, now, group_path)
        return _answer(
            metric, customer_id, timeframe, window, value, now, precomputed=False, groups=groups
        )
    events = _events(con, metric, customer_id, window)
    value = _evaluate(metric, events, limits)
    groups = None if group_path is None else _sql_groups(metric, events, group_path, limits)
    return _answer(
        metric, customer_id, timeframe, window, value, now, precomputed=False, groups=groups
    )


def answer(
    view: SnapshotView,
    store: sa.Engine,
    metric: Metric,
    customer_id: str | None,
    timeframe: Timeframe,
    now: datetime,
    settings: Settings,
    group_by: str | None = None,
) -> MetricValue:
    """GET /v1/metrics/{id}/value's answer, off the event loop: from memory when it can (with
    the SQLite store, whose reads never wait), else computed."""
    if store.dialect.name == "sqlite":
        found = remembered_value(view, store, metric, customer_id, timeframe, now, group_by)
        if found is not None:
            return found
    limits = metric_sandbox.SandboxLimits.from_settings(settings)
    return metric_value(
        view,
        store,
        metric,
        customer_id,
        timeframe,
        now,
        limits,
        group_by,
        settings.metric_cache_rows,
    )


def remembered_value(
    view: SnapshotView,
    store: sa.Engine,
    metric: Metric,
    customer_id: str | None,
    timeframe: Timeframe,
    now: datetime,
    group_by: str | None,
) -> MetricValue | None:
    """The value when it takes no more than what memory holds already (a customer read
    before, a series made, a pre-computed row read) and the unbuilt events' tail; None when
    it takes more (metric_value, off the event loop)."""
    if _organization_in_memory(metric, customer_id, group_by):
        kept = view.kept(OrganizationSeries)
        series = kept.held(metric.organization_id, metric.event_name)
        if series is None:
            return None
        unbuilt = view.kept(live.UnbuiltEvents).of(store, metric.organization_id)
        value = _organization(kept, series, unbuilt, metric, timeframe.window(now))
        return _answer(
            metric, None, timeframe, timeframe.window(now), value, now, precomputed=False
        )
    if customer_id is None or group_by is not None or metric.query_type == "complex":
        return None
    customer = view.kept(CustomerEvents).held(metric.organization_id, customer_id)
    if customer is None:
        return None
    mine = view.kept(live.UnbuiltEvents).of_customer(store, metric.organization_id, customer_id)
    window = timeframe.window(now)
    if metric.query_type == "simple":
        if not customer.has_series(metric.event_name, mine):
            return None
        value = _simple(customer, mine, metric, window, now)
        return _answer(metric, customer_id, timeframe, window, value, now, precomputed=False)
    question = _precomputed_question(metric, customer_id, timeframe)
    if mine.num_rows or view.answers.get(question) is MISSING:
        return None
    return _precomputed_answer(view, metric, customer_id, timeframe)


def _organization_in_memory(metric: Metric, customer_id: str | None, group_by) -> bool:
    """Whether the value is an organization's that memory answers (organization_values.py)."""
    return (
        customer_id is None
        and group_by is None
        and metric.query_type == "simple"
        and metric.aggregation_type in organization_values.IN_MEMORY
    )


def _organization(kept: OrganizationSeries, series, unbuilt: pa.Table, metric: Metric, window):
    """The organization's value from its series and its unbuilt events'."""
    added = kept.unbuilt(metric.organization_id, metric.event_name, unbuilt)
    return organization_values.organization_value(
        series, added, metric.aggregation_type, *_bounds(window)
    )


def _precomputed_question(metric: Metric, customer_id: str, timeframe: Timeframe) -> tuple:
    return ("precomputed", metric.metric_id, metric.version, customer_id, slice_key(timeframe))


def _precomputed_answer(view: SnapshotView, metric: Metric, customer_id: str, timeframe):
    """The value the build pre-computed for this slice and definition version, if any (read
    once per snapshot)."""
    question = _precomputed_question(metric, customer_id, timeframe)
    row = view.answers.get(question)
    if row is MISSING:
        con = view.connection.cursor()
        try:
            row = _precomputed(con, metric, customer_id, timeframe)
        finally:
            con.close()
        view.answers.put(question, row)
    if row is None:
        return None
    value, result_rows, start, end, as_of = row
    if result_rows != 1:
        raise MetricQueryFailed(f"metric query must return exactly one row, not {result_rows}")
    built = Window(_utc(start), _utc(end))
    return _answer(metric, customer_id, timeframe, built, value, _utc(as_of), precomputed=True)


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
    start = ALL_TIME[0] if window.start is None else naive_utc(window.start)
    end = ALL_TIME[1] if window.end is None else naive_utc(window.end)
    return start, end


def _params(metric: Metric, customer_id: str | None, window: Window) -> dict:
    start, end = _bounds(window)
    return {
        "org": metric.organization_id,
        "customer_id": customer_id,
        "event_name": metric.event_name,
        "window_start": start,
        "window_end": end,
    }


def _simple(customer: Customer, mine: pa.Table, metric: Metric, window: Window, now: datetime):
    start, end = (micros(moment) for moment in _bounds(window))
    series = customer.series(metric.event_name, mine)
    if series is None:
        return _empty(metric)
    until = min(end, micros(now))
    return customer_events.simple_value(metric.aggregation_type, series, start, end, until)


def _simple_grouped(
    con, metric: Metric, customer_id: str | None, window: Window, now: datetime, group_path
) -> tuple[object, list[GroupValue] | None]:
    """A simple metric of the whole organization, or by group: the value over all the events
    (as if there were no groups), and each group's value over its own events."""
    params = _params(metric, customer_id, window)
    until = min(params["window_end"], naive_utc(now))
    total = _per_group(con, metric, {**params, "group_path": None}, until).get(None)
    if total is None:
        total = _empty(metric)
    if group_path is None:
        return total, None
    per_group = _per_group(con, metric, {**params, "group_path": group_path}, until)
    _too_many(metric, len(per_group))
    order = sorted(per_group, key=lambda k: (k is None, k or ""))
    return total, [GroupValue(key=k, value=_json_number(per_group[k])) for k in order]


def _per_group(con, metric: Metric, params: dict, until: datetime) -> dict:
    """group key → value (one key, None, when params' group_path is None)."""
    if metric.aggregation_type != "WEIGHTED_SUM":
        rows = con.execute(load_sql(_QUERIES, "grouped_values"), params).fetchall()
        return {row[0]: _aggregate(metric.aggregation_type, *row[1:]) for row in rows}
    # a level per customer (and group): each one's value-hours, added up
    steps: dict[tuple, list] = defaultdict(list)
    for customer, key, at, value in con.execute(
        load_sql(_QUERIES, "grouped_gauge_steps"), params
    ).fetchall():
        steps[customer, key].append((micros(at), int(value.scaleb(6))))
    per_group: dict[str | None, Decimal] = defaultdict(Decimal)
    for (_, key), customer_steps in steps.items():
        per_group[key] += weighted_sum(customer_steps, micros(until))
    return dict(per_group)


def _aggregate(aggregation: str, count, total, smallest, largest, unique, latest):
    return {
        "COUNT": count,
        "SUM": total,
        "MIN": smallest,
        "MAX": largest,
        "AVG": Decimal(total) / count if count else None,
        "UNIQUE_COUNT": unique,
        "LATEST": latest,
    }[aggregation]


def _empty(metric: Metric):
    """The value of no events (docs/metrics.md)."""
    zero = ("COUNT", "SUM", "UNIQUE_COUNT", "WEIGHTED_SUM")
    return 0 if metric.aggregation_type in zero else None


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


def _events(con, metric: Metric, customer_id: str | None, window: Window) -> pa.Table:
    """filtered_events of one customer (or all of the organization's) in the window."""
    start, end = _bounds(window)
    return con.sql(
        metric_sandbox.FILTERED_EVENTS_SQL,
        params={
            "org": metric.organization_id,
            "customer_id": customer_id,
            "window_start": start,
            "window_end": end,
        },
    ).to_arrow_table()


def _sql_groups(metric: Metric, events: pa.Table, group_path: str, limits) -> list[GroupValue]:
    """The metric's SQL once per group: over the events whose metadata has that value."""
    with scratch() as con:
        con.register("events", events)
        keyed = con.sql(
            "select *, json_extract_string(properties, $path) as group_key from events",
            params={"path": group_path},
        ).to_arrow_table()
    keys = sorted(pc.unique(keyed["group_key"]).to_pylist(), key=lambda k: (k is None, k or ""))
    _too_many(metric, len(keys))
    groups = []
    for key in keys:
        chosen = (
            pc.is_null(keyed["group_key"]) if key is None else pc.equal(keyed["group_key"], key)
        )
        subset = keyed.filter(chosen).drop_columns(["group_key"])
        groups.append(GroupValue(key=key, value=_json_number(_evaluate(metric, subset, limits))))
    return groups


def _evaluate(metric: Metric, events: pa.Table, limits):
    # checked at create and update; checked again, for nothing in the store is trusted
    runnable = runnable_sql(metric.sql_definition)
    try:  # in a worker process; two at a time per server process
        return metric_sandbox.evaluate(runnable, events, limits)
    except metric_sandbox.MetricQueryTimeout as error:
        raise MetricQueryTimedOut(str(error)) from None
    except metric_sandbox.MetricQueryError as error:
        raise MetricQueryFailed(str(error)) from None


def _answer(
    metric: Metric,
    customer_id: str | None,
    timeframe: Timeframe,
    window: Window,
    value,
    as_of: datetime,
    *,
    precomputed: bool,
    groups: list[GroupValue] | None = None,
) -> MetricValue:
    return MetricValue(
        id=metric.metric_id,
        name=metric.name,
        customerId=customer_id,
        value=_json_number(value),
        groups=groups,
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


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)
