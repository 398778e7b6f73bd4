"""Run one metric's SQL in a locked-down DuckDB that holds nothing but the metric's events.

Each evaluation gets a new connection to an in-memory database with file and network access
(but for a build's files of events), Python replacement scans and extension loading
switched off and its configuration locked, so the query cannot undo any of it; the caller's
rows are registered on that connection alone, and only a single SELECT runs, so nothing
outlives the connection. A timer interrupts a query that runs past its time limit; memory
and threads are capped. The query has already been validated (core.metric_sql); this is the
second wall, not the first.

The same checks run wherever a metric is accepted or evaluated (docs/reliability.md#limits):
`check` at create and update and again in the build's export, `evaluate` for one value on
demand, `evaluate_slices` for every pre-computed value of a build, in the correlated form
that `check` has already bound. The last two run in a worker process
(core/sandbox_process.py), whose limits hold whatever the query allocates.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from core import sandbox_process
from core.metric_sql import FILTERED_EVENTS, FILTERED_EVENTS_COLUMNS
from core.settings import Settings
from core.sql import load_sql, scratch

# The result's one column must be exactly one of these types (DuckDB's type ids): a list,
# struct or map of numbers is not a number, whatever its name starts with.
NUMERIC_TYPE_IDS = frozenset(
    {
        "tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint",
        "uinteger", "ubigint", "uhugeint", "float", "double", "decimal",
    }
)  # fmt: skip
_COLUMNS_DDL = ", ".join(f'"{name}" {kind}' for name, kind in FILTERED_EVENTS_COLUMNS.items())
# the pre-computed slices a build evaluates: one customer, and a half-open span of instants
SLICE_COLUMNS = {
    "slice_id": "bigint",
    "customer_id": "varchar",
    "slice_start": "timestamp",
    "slice_end": "timestamp",
}
# a file's columns as filtered_events types them, whatever types the file stored
_FILE_COLUMNS = ", ".join(
    f'cast("{name}" as {kind}) as "{name}"' for name, kind in FILTERED_EVENTS_COLUMNS.items()
)
_SLICES_DDL = ", ".join(f'"{name}" {kind}' for name, kind in SLICE_COLUMNS.items())
_SLICES_TEMPLATE = load_sql(Path(__file__).parent / "sql", "evaluate_metric_slices")
# the events a metric's SQL sees, from fct_metric_events (the API's and the build's)
FILTERED_EVENTS_SQL = load_sql(Path(__file__).parent / "sql", "filtered_events")
assert _SLICES_TEMPLATE.count("($metric_sql)") == 1, "evaluate_metric_slices.sql: one slot"


@dataclass(frozen=True)
class SandboxLimits:
    seconds: float = 2.0
    memory: str = "256MB"
    threads: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxLimits:
        return cls(seconds=settings.metric_query_seconds, memory=settings.metric_query_memory)

    @classmethod
    def for_build(cls, settings: Settings) -> SandboxLimits:
        """One metric's share of a build: all its customers' slices in one evaluation."""
        return cls(seconds=settings.metric_build_seconds, memory=settings.metric_build_memory)


class MetricQueryError(Exception):
    """The metric's SQL could not produce a value; the message is safe to show its author."""


class MetricQueryTimeout(MetricQueryError):
    pass


class MetricResultInvalid(MetricQueryError):
    pass


def check(sql: str, limits: SandboxLimits) -> None:
    """The query binds over an empty `filtered_events`, alone and in the correlated form the
    build evaluates, and returns one numeric column; else MetricQueryError saying why."""
    with _sandbox(sql, None, limits, slices=None) as con:
        _check_shape(con.sql(sql))
        con.sql(_slices_query(sql))


def filtered_events(
    rows: pa.Table, organization_id: str, start: datetime, end: datetime
) -> pa.Table:
    """FILTERED_EVENTS_SQL over `rows` (shaped as metric_event_rows) in [start, end)."""
    with scratch() as con:
        con.register("metric_event_rows", rows)
        return con.sql(
            FILTERED_EVENTS_SQL,
            params={
                "org": organization_id,
                "customer_id": None,
                "window_start": start,
                "window_end": end,
            },
        ).to_arrow_table()


@dataclass(frozen=True)
class MappedWindow:
    """filtered_events of one customer and timeframe, sent to a worker by reference: the rows
    of an Arrow IPC file (filtered_events' columns, in time order) in [start, end), which the
    worker maps rather than receives, and `extra` rows (already in the window)."""

    path: Path
    start: datetime
    end: datetime
    extra: pa.Table

    def read(self) -> pa.Table:
        table = pa.ipc.open_file(pa.memory_map(str(self.path))).read_all()
        stamps = table["timestamp"].to_numpy()
        first, last = np.searchsorted(stamps, [np.datetime64(self.start), np.datetime64(self.end)])
        rows = table.slice(int(first), int(last - first))
        if not self.extra.num_rows:
            return rows
        return pa.concat_tables([rows, self.extra.select(rows.column_names).cast(rows.schema)])


def evaluate(
    sql: str, events: pa.Table | MappedWindow, limits: SandboxLimits
) -> int | Decimal | float | None:
    """The query's one numeric value over `events` (one customer, one timeframe)."""
    return _in_worker(("value", sql, events, None, limits), limits)


def evaluate_slices(
    sql: str, events: list[Path], slices: pa.Table, limits: SandboxLimits
) -> pa.Table:
    """(slice_id, result_rows, metric_value as DOUBLE) for every slice, in one query under
    one time and memory limit: the whole of one metric's pre-computation in a build.
    `events`: Parquet files of the organization's events (filtered_events' columns), which
    the worker's DuckDB reads itself (`events_database`), within the memory limit."""
    return _in_worker(("slices", sql, events, slices, limits), limits)


_ERRORS = {
    error.__name__: error for error in (MetricQueryError, MetricQueryTimeout, MetricResultInvalid)
}


def _in_worker(request: tuple, limits: SandboxLimits):
    with sandbox_process.pool().worker() as worker:
        try:
            answer = worker.call(request, timeout=limits.seconds)
        except sandbox_process.WorkerFailed as failed:
            if failed.timed_out:
                raise MetricQueryTimeout(_timeout_message(limits)) from None
            raise MetricQueryError(memory_message(limits)) from None
    if answer[0] == "ok":
        return answer[1]
    _, kind, message = answer
    raise _ERRORS[kind](message)


def _timeout_message(limits: SandboxLimits) -> str:
    return f"metric query stopped after its time limit of {limits.seconds:g} s"


def memory_message(limits: SandboxLimits) -> str:
    return f"metric query stopped at its memory limit of {limits.memory}"


def evaluate_here(
    sql: str, events: pa.Table | None, limits: SandboxLimits
) -> int | Decimal | float | None:
    """evaluate, in this process (a sandbox worker's)."""
    with _sandbox(sql, events, limits, slices=None) as con:
        relation = con.sql(sql)
        _check_shape(relation)
        rows = relation.limit(2).fetchall()
    if len(rows) != 1:
        raise MetricResultInvalid(f"metric query must return exactly one row, not {len(rows)}")
    return _number(rows[0][0])


def evaluate_slices_here(
    sql: str, events: pa.Table | duckdb.DuckDBPyConnection, slices: pa.Table, limits: SandboxLimits
) -> pa.Table:
    """evaluate_slices, in this process (a sandbox worker's)."""
    with _sandbox(sql, events, limits, slices=slices) as con:
        relation = con.sql(_slices_query(sql))
        kind = relation.types[2]
        if kind.id not in NUMERIC_TYPE_IDS:
            raise MetricResultInvalid(f"metric query must return a number, not {kind}")
        values = relation.project(
            "slice_id, result_rows, cast(metric_value as double) as metric_value"
        ).to_arrow_table()
    for value in values.column("metric_value").to_pylist():
        if value is not None and not math.isfinite(value):
            raise MetricResultInvalid(f"metric query returned {value!r}, not a finite number")
    return values


def _slices_query(sql: str) -> str:
    return _SLICES_TEMPLATE.replace("($metric_sql)", f"({sql})")


@contextmanager
def _sandbox(
    sql: str,
    events: pa.Table | duckdb.DuckDBPyConnection | None,
    limits: SandboxLimits,
    *,
    slices: pa.Table | None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A locked connection for `sql`, which must be a single SELECT, whose queries stop at
    the time limit; DuckDB's errors become MetricQueryError with their first line."""
    con = _locked_connection(events, slices, limits)
    timer = threading.Timer(limits.seconds, con.interrupt)
    try:
        timer.start()
        statements = con.extract_statements(sql)
        if [s.type for s in statements] != [duckdb.StatementType.SELECT]:
            raise MetricQueryError("metric query must be a single SELECT")
        yield con
    except duckdb.InterruptException:
        raise MetricQueryTimeout(_timeout_message(limits)) from None
    except (duckdb.OutOfMemoryException, MemoryError):
        raise MetricQueryError(memory_message(limits)) from None
    except duckdb.Error as error:
        raise MetricQueryError(f"metric query failed: {_first_line(error)}") from None
    except RecursionError:
        raise MetricQueryError("metric query nests too deeply") from None
    finally:
        timer.cancel()
        con.close()


def _locked_connection(
    events: pa.Table | duckdb.DuckDBPyConnection | None,
    slices: pa.Table | None,
    limits: SandboxLimits,
) -> duckdb.DuckDBPyConnection:
    """A new connection to this process's locked database for these limits, or the database
    `events_database` opened: what it registers and creates is its own (temporary) and goes
    with it."""
    if isinstance(events, duckdb.DuckDBPyConnection):
        con = events
    else:
        con = _database(limits).cursor()
        if events is None or not events.num_columns:
            # no rows: typed, empty relations are enough to bind the query and run it
            con.execute(f"create temp table {FILTERED_EVENTS} ({_COLUMNS_DDL})")
            con.execute(f"create temp view metric_events as select * from {FILTERED_EVENTS}")
        else:
            # the caller's rows, scanned in place (no copy)
            chosen = events.select(list(FILTERED_EVENTS_COLUMNS))
            con.register(FILTERED_EVENTS if slices is None else "metric_events", chosen)
    if slices is None:
        con.execute(f"create temp table metric_slices ({_SLICES_DDL})")
    else:
        con.register("metric_slices", slices.select(list(SLICE_COLUMNS)))
    return con


def events_database(events: list[Path], limits: SandboxLimits) -> duckdb.DuckDBPyConnection:
    """A new in-memory database, locked down as `_database`'s, that may read some files: the
    Parquet files of a build's `events` (evaluate_slices), as `metric_events`. DuckDB reads
    them as the query asks, within the memory limit, so a worker holds a few row groups of an
    organization's events, never all of them (an Arrow file it mapped instead kept every page
    the query touched resident: 5.7 GB of a 20M-event organization). Closing the connection
    closes the database."""
    database = duckdb.connect(":memory:", config=_config(limits))
    files = "[" + ", ".join("'" + str(path).replace("'", "''") + "'" for path in events) + "]"
    try:
        database.execute(f"set allowed_paths = {files}")
        database.execute("set enable_external_access = false")
        database.execute("set lock_configuration = true")
        database.execute(
            f"create temp view metric_events as select {_FILE_COLUMNS} from read_parquet({files})"
        )
    except duckdb.Error as error:
        database.close()
        raise MetricQueryError(f"metric query failed: {_first_line(error)}") from None
    return database


def _config(limits: SandboxLimits) -> dict[str, object]:
    return {
        "threads": limits.threads,
        "memory_limit": limits.memory,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "python_enable_replacements": False,
    }


_databases: dict[SandboxLimits, duckdb.DuckDBPyConnection] = {}
_databases_lock = threading.Lock()


def _database(limits: SandboxLimits) -> duckdb.DuckDBPyConnection:
    """One in-memory database per process and limits (opening one takes ~13 ms), locked
    down before its first use: no file or network access, no Python replacement scans, no
    extension loading, and a configuration no query can change. Only a single SELECT runs
    on it (`_sandbox`), so nothing an evaluation does outlives its connection."""
    with _databases_lock:
        if limits not in _databases:
            database = duckdb.connect(":memory:", config=_config(limits))
            database.execute("set enable_external_access = false")
            database.execute("set lock_configuration = true")
            _databases[limits] = database
        return _databases[limits]


def _check_shape(relation: duckdb.DuckDBPyRelation | None) -> None:
    if relation is None:
        raise MetricResultInvalid("metric query must be a SELECT that returns a value")
    if len(relation.types) != 1:
        raise MetricResultInvalid(
            f"metric query must return exactly one column, not {len(relation.types)}"
        )
    kind = relation.types[0]
    if kind.id not in NUMERIC_TYPE_IDS:
        raise MetricResultInvalid(f"metric query must return a number, not {kind}")


def _number(value: object) -> int | Decimal | float | None:
    if value is None or isinstance(value, int | Decimal):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise MetricResultInvalid(f"metric query returned {value!r}, not a finite number")


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:300]
