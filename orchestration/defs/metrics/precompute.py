"""Pre-compute the values of indexed metrics, one metric at a time, each in its own sandbox.

A metric is evaluated over every slice of every customer of its organization in one query
(core/sql/evaluate_metric_slices.sql) in a fresh, locked DuckDB holding only
that organization's events, under the build's time and memory limit for one metric. A metric
that errors, returns something other than one number, or runs past a limit is skipped and
recorded with its reason in `dim_metrics`: its values are answered on demand, and every other
metric, mart and organization builds and publishes. A metric that failed is not tried again
while its definition is the same (a runaway would otherwise cost every build its time limit);
a new version tries it again. So the outcome of a failing metric is the same in every build,
incremental or full refresh, however loaded the machine was when it first failed.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from core import metric_sandbox, metric_sql
from core.metric_sql import FILTERED_EVENTS_COLUMNS
from core.sql import load_sql
from orchestration.defs.metrics.event_files import organization_events

SQL_DIR = Path(__file__).parent / "sql"
EVENT_FILES_FOLDER = "metric-events"  # in the warehouse's folder: event_files.py


@dataclass
class PrecomputeReport:
    evaluated: dict[str, float] = field(default_factory=dict)  # metric id: seconds
    failed: dict[str, str] = field(default_factory=dict)  # metric id: reason
    values: int = 0


def precompute_values(
    warehouse: duckdb.DuckDBPyConnection,
    *,
    as_of: datetime,
    limits: metric_sandbox.SandboxLimits,
    evaluate: bool = True,
    log: Callable[[str], None] = lambda message: None,
    scratch: Path | None = None,
) -> PrecomputeReport:
    """Write marts.fct_metric_values and marts.dim_metrics anew. With `evaluate` false (an
    engine other than DuckDB), no metric is evaluated and dim_metrics says why. An
    organization's events pass to the sandbox through files kept in `scratch`'s
    EVENT_FILES_FOLDER between builds (event_files.py; the build uses its warehouse's folder),
    or in a temporary folder when `scratch` is None."""
    as_of = as_of.replace(tzinfo=None)
    warehouse.execute("create schema if not exists marts; set search_path = 'marts'")
    with ExitStack() as stack:
        if scratch is None:
            files_root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="metric-")))
        else:
            files_root = scratch / EVENT_FILES_FOLDER
        return _precompute(warehouse, as_of, limits, evaluate, log, files_root)


def _precompute(
    warehouse: duckdb.DuckDBPyConnection,
    as_of: datetime,
    limits: metric_sandbox.SandboxLimits,
    evaluate: bool,
    log: Callable[[str], None],
    files_root: Path,
) -> PrecomputeReport:
    previous = _previous_failures(warehouse)
    definitions = warehouse.execute(load_sql(SQL_DIR, "select_exported_definitions")).fetchall()
    report, outcomes, results = PrecomputeReport(), [], []
    slices_of: dict[str, pa.Table] = {}
    files_of: dict[str, list[Path]] = {}
    for metric_id, org, name, query_type, version, indexable, runnable, refused in definitions:
        failed, reason = False, refused
        if indexable and not evaluate:
            reason = "pre-computed on the embedded engine (DuckDB) only"
        elif indexable and (metric_id, version) in previous:
            failed, reason = True, previous[metric_id, version]
        elif indexable:
            if org not in slices_of:
                slices_of[org] = _slices(warehouse, org, as_of)
            started = time.perf_counter()
            try:
                if org not in files_of:
                    files_of[org] = organization_events(
                        warehouse, files_root, org, _columns_read(definitions, org)
                    )
                values = metric_sandbox.evaluate_slices(
                    runnable, files_of[org], slices_of[org], limits
                )
            except (metric_sandbox.MetricQueryError, metric_sql.MetricSqlError) as error:
                failed, reason = True, f"the build could not pre-compute it: {error}"
                report.failed[metric_id] = reason
                log(f"metric {metric_id} ({org}) is not pre-computed: {reason}")
            else:
                results.append((org, metric_id, version, slices_of[org], values))
                report.values += values.num_rows
            # in the run's metadata, not the mart: a mart is the same whenever it is built
            report.evaluated[metric_id] = time.perf_counter() - started
        precomputed = bool(indexable) and evaluate and not failed
        outcomes.append(
            (metric_id, org, name, query_type, version, precomputed, failed, reason, as_of)
        )
    _write(warehouse, outcomes, results, as_of)
    return report


def _columns_read(definitions: list[tuple], org: str) -> set[str]:
    """The filtered_events columns the organization's indexable metrics read."""
    read: set[str] = set()
    for _, metric_org, _, _, _, indexable, runnable, _ in definitions:
        if metric_org == org and indexable:
            try:
                columns = metric_sql.columns_read(runnable)
            except metric_sql.MetricSqlError:  # its own evaluation says why; hold them all
                columns = None
            read |= set(FILTERED_EVENTS_COLUMNS) if columns is None else columns
    return read


def _previous_failures(warehouse: duckdb.DuckDBPyConnection) -> dict[tuple[str, int], str]:
    try:
        rows = warehouse.execute(load_sql(SQL_DIR, "select_previous_failures")).fetchall()
    except duckdb.CatalogException:  # no build has written dim_metrics yet
        return {}
    return {(metric_id, version): reason for metric_id, version, reason in rows}


def _slices(warehouse: duckdb.DuckDBPyConnection, org: str, as_of: datetime) -> pa.Table:
    return warehouse.sql(
        load_sql(SQL_DIR, "metric_slices"),
        params={"org": org, "as_of": as_of, "days": list(metric_sql.PRECOMPUTED_DAYS)},
    ).to_arrow_table()


def _write(warehouse: duckdb.DuckDBPyConnection, outcomes, results, as_of: datetime) -> None:
    warehouse.execute("begin transaction")
    try:
        warehouse.execute(load_sql(SQL_DIR, "create_metric_values"))
        if outcomes:
            warehouse.executemany(load_sql(SQL_DIR, "insert_metric_outcome"), outcomes)
        insert = load_sql(SQL_DIR, "insert_metric_values")
        for org, metric_id, version, slices, evaluated in results:
            warehouse.register("slices", slices)
            warehouse.register("evaluated", evaluated)
            warehouse.execute(insert, [org, metric_id, version, as_of])
        warehouse.execute("commit")
    except BaseException:
        warehouse.execute("rollback")
        raise
    finally:
        for name in ("slices", "evaluated"):
            warehouse.unregister(name)
