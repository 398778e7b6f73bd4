"""Run one metric's SQL in a locked-down DuckDB that holds nothing but `filtered_events`.

Each evaluation gets a fresh in-memory database: the caller's rows are copied in, then file
and network access, Python replacement scans and extension loading are switched off and the
configuration is locked, so the query cannot undo any of it. A timer interrupts a query that
runs past its time limit; memory and threads are capped. The query has already been
validated (orchestration.lib.metric_sql); this is the second wall, not the first.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from decimal import Decimal

import duckdb
import pyarrow as pa

from orchestration.lib.metric_sql import FILTERED_EVENTS, FILTERED_EVENTS_COLUMNS
from orchestration.settings import Settings

_NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)
_COLUMNS_DDL = ", ".join(f'"{name}" {kind}' for name, kind in FILTERED_EVENTS_COLUMNS.items())


@dataclass(frozen=True)
class SandboxLimits:
    seconds: float = 2.0
    memory: str = "256MB"
    threads: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxLimits:
        return cls(seconds=settings.metric_query_seconds, memory=settings.metric_query_memory)


class MetricQueryError(Exception):
    """The metric's SQL could not produce a value; the message is safe to show its author."""


class MetricQueryTimeout(MetricQueryError):
    pass


class MetricResultInvalid(MetricQueryError):
    pass


def evaluate(
    sql: str, events: pa.Table | None, limits: SandboxLimits
) -> int | Decimal | float | None:
    """The query's one numeric value over `events` (None: check the query's shape only)."""
    con = _locked_connection(events, limits)
    timer = threading.Timer(limits.seconds, con.interrupt)
    try:
        timer.start()
        relation = con.sql(sql)
        _check_shape(relation)
        if events is None:
            return None
        rows = relation.limit(2).fetchall()
    except duckdb.InterruptException:
        raise MetricQueryTimeout(
            f"metric query stopped after its time limit of {limits.seconds:g} s"
        ) from None
    except duckdb.Error as error:
        raise MetricQueryError(f"metric query failed: {_first_line(error)}") from None
    finally:
        timer.cancel()
        con.close()
    if len(rows) != 1:
        raise MetricResultInvalid(f"metric query must return exactly one row, not {len(rows)}")
    return _number(rows[0][0])


def _locked_connection(events: pa.Table | None, limits: SandboxLimits) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        ":memory:",
        config={
            "threads": limits.threads,
            "memory_limit": limits.memory,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        },
    )
    if events is None or not events.num_columns:
        # no rows: a typed, empty relation is enough to bind the query and run it
        con.execute(f"create table {FILTERED_EVENTS} ({_COLUMNS_DDL})")
    else:
        # the caller's rows, scanned in place (no copy); registered before the lock-down
        con.register(FILTERED_EVENTS, events.select(list(FILTERED_EVENTS_COLUMNS)))
    con.execute("set python_enable_replacements = false")
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")
    return con


def _check_shape(relation: duckdb.DuckDBPyRelation | None) -> None:
    if relation is None:
        raise MetricResultInvalid("metric query must be a SELECT that returns a value")
    if len(relation.types) != 1:
        raise MetricResultInvalid(
            f"metric query must return exactly one column, not {len(relation.types)}"
        )
    kind = str(relation.types[0]).upper()
    if not kind.startswith(_NUMERIC_TYPES):
        raise MetricResultInvalid(f"metric query must return a number, not {kind}")


def _number(value: object) -> int | Decimal | float | None:
    if value is None or isinstance(value, int | Decimal):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise MetricResultInvalid(f"metric query returned {value!r}, not a finite number")


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:300]
