"""Export the live metric definitions from the control store into the warehouse.

Every definition's SQL is validated again here (the store is not trusted: it may have been
written by an older release or by hand), and each indexed metric gets a trial run in the
sandbox over its organization's busiest customer. Only definitions that pass are marked
`indexable`, so a runaway or broken query can never stall or fail the dbt build: such a
metric is answered on demand (and refused there with its reason).

A definition whose version and SQL are those already exported, while the events are the same
as at that export (same count in ``raw.usage_events``), keeps its outcome without a new
trial: a build with nothing new does not read the busiest customers' events again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from orchestration.lib import metric_sandbox, metric_sql
from orchestration.lib.sql import load_sql

SQL_DIR = Path(__file__).parent


@dataclass(frozen=True)
class ExportReport:
    definitions: int
    indexed: int
    not_indexable: dict[str, str]


def export_definitions(
    warehouse: duckdb.DuckDBPyConnection,
    store: sa.Engine,
    *,
    now: datetime,
    limits: metric_sandbox.SandboxLimits,
) -> ExportReport:
    warehouse.execute(load_sql(SQL_DIR, "create_metric_definitions"))
    with store.connect() as con:
        definitions = con.execute(sa.text(load_sql(SQL_DIR, "select_live_metrics"))).fetchall()
    rows, refused = [], {}
    trial_events = _TrialEvents(warehouse)
    events = warehouse.execute("select count(*) from raw.usage_events").fetchall()[0][0]
    previous = _previous_outcomes(warehouse, events)
    for (
        metric_id,
        org,
        name,
        query_type,
        aggregation,
        event,
        value_type,
        sql,
        version,
    ) in definitions:
        runnable, reason = None, None
        if (metric_id, version, sql) in previous:
            runnable, reason = previous[metric_id, version, sql]
        elif sql is not None:
            trial = trial_events.of(org) if query_type == "indexed" else None
            runnable, reason = _check(sql, trial, limits)
        indexable = query_type == "indexed" and reason is None
        if query_type == "indexed" and reason is not None:
            refused[metric_id] = reason
        rows.append(
            (metric_id, org, name, query_type, aggregation, event, value_type, sql, runnable,
             version, indexable, reason, now.replace(tzinfo=None))
        )  # fmt: skip
    warehouse.execute("begin transaction")
    try:
        warehouse.execute("delete from raw.metric_definitions")
        if rows:
            warehouse.executemany(load_sql(SQL_DIR, "insert_metric_definition"), rows)
        warehouse.execute("delete from raw.metric_trial_events")
        warehouse.execute("insert into raw.metric_trial_events values (?)", [events])
        warehouse.execute("commit")
    except BaseException:
        warehouse.execute("rollback")
        raise
    indexed = sum(1 for *_, indexable, _reason, _at in rows if indexable)
    return ExportReport(definitions=len(rows), indexed=indexed, not_indexable=refused)


def _previous_outcomes(
    warehouse: duckdb.DuckDBPyConnection, events: int
) -> dict[tuple[str, int, str | None], tuple[str | None, str | None]]:
    """The last export's outcome per (metric, version, SQL), if the events are unchanged."""
    (tried_on,) = warehouse.execute(
        "select coalesce(max(events), -1) from raw.metric_trial_events"
    ).fetchall()[0]
    if tried_on != events:
        return {}
    return {
        (metric_id, version, sql): (runnable, reason)
        for metric_id, version, sql, runnable, reason in warehouse.execute(
            "select metric_id, definition_version, sql_definition, runnable_sql, "
            "not_indexed_reason from raw.metric_definitions"
        ).fetchall()
    }


class _TrialEvents:
    """Each organization's busiest customer's events, read once per export."""

    def __init__(self, warehouse: duckdb.DuckDBPyConnection) -> None:
        self.warehouse = warehouse
        self.read: dict[str, pa.Table] = {}

    def of(self, org: str) -> pa.Table:
        if org not in self.read:
            self.read[org] = self.warehouse.sql(
                load_sql(SQL_DIR, "busiest_customer_events"), params={"org": org}
            ).to_arrow_table()
        return self.read[org]


def _check(sql: str, trial: pa.Table | None, limits) -> tuple[str | None, str | None]:
    """The runnable SQL, or why it is refused; with a trial, also why it cannot be indexed."""
    try:
        runnable = metric_sql.normalize(sql)
        metric_sandbox.evaluate(runnable, None, limits)  # binds, one numeric column
    except (metric_sql.MetricSqlError, metric_sandbox.MetricQueryError) as error:
        return None, str(error)
    if trial is None:
        return runnable, None
    try:
        metric_sandbox.evaluate(runnable, trial, limits)
    except metric_sandbox.MetricResultInvalid:
        # a result that only shows on real rows (e.g. two rows) is the answer's problem, not
        # the build's: the values mart records it and the API refuses it the same way
        pass
    except metric_sandbox.MetricQueryError as error:
        return runnable, f"trial run on the busiest customer: {error}"
    return runnable, None
