"""Export the live metric definitions from the control store into the warehouse.

Every definition's SQL is checked again here, exactly as the API checks it at create and
update (the store is not trusted: it may have been written by an older release or by hand).
Indexed ones that pass are marked `indexable`; the build's pre-computation
(`precompute.py`) evaluates each of those alone, under its own time and memory limit, so
that no metric can stall or fail the build. One that is refused here, or stopped there, is
answered on demand, and its reason is published in `dim_metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import sqlalchemy as sa

from core import metric_sandbox, metric_sql
from core.sql import load_sql

SQL_DIR = Path(__file__).parent / "sql"


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
        runnable, reason = (None, None) if sql is None else checked(sql, limits)
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
        warehouse.execute("commit")
    except BaseException:
        warehouse.execute("rollback")
        raise
    indexed = sum(1 for *_, indexable, _reason, _at in rows if indexable)
    return ExportReport(definitions=len(rows), indexed=indexed, not_indexable=refused)


def checked(sql: str, limits: metric_sandbox.SandboxLimits) -> tuple[str | None, str | None]:
    """The runnable SQL, or why it is refused: the API's create-time check, run again."""
    try:
        runnable = metric_sql.normalize(sql)
        metric_sandbox.check(runnable, limits)
    except (metric_sql.MetricSqlError, metric_sandbox.MetricQueryError) as error:
        return None, str(error)
    return runnable, None
