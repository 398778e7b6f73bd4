"""Publish the marts as a new, immutable serving snapshot and switch to it atomically.

Each publish writes ``serving/snapshots/<version>.duckdb`` (a new file, never one that a
reader may have open), then points the stable path ``serving/current.duckdb`` at it with an
atomic rename of a symlink. Readers that opened the old snapshot keep reading it; new
readers see the new one; nobody ever sees half a build.

A publish costs what changed, not the history (docs/operations.md#snapshots): the new file
starts as a copy of the served one; the event facts, which only ever gain rows of newer
ingest runs, get just those rows appended (sorted among themselves), and every other table
is replaced. A fact is rewritten whole, sorted, when its columns changed, when the served
rows are not exactly the warehouse's rows of the runs it had, when the build was a full
refresh, or when the rows appended since its last sort pass a quarter of the table.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from orchestration.lib.sql import load_sql

SQL_DIR = Path(__file__).parent
# What analysts and the API read: every mart, plus the quarantine and the ingest ledger.
PUBLISHED_SCHEMAS = ("marts",)
PUBLISHED_RAW_TABLES = ("rejected_events", "landing_files", "ingest_runs")
STORAGE_VERSION = "v1.5.0"
# Row order of the published tables: readers filter by organization (and time or end user)
# first, and DuckDB skips row groups whose min/max cannot match.
SORT_KEYS = {
    "fct_usage_costs": "organization_id, event_at",
    "fct_daily_costs": "organization_id, end_user_id, cost_date",
    "fct_hourly_usage": "organization_id, customer_id, event_type, usage_hour",
    "fct_metric_events": "organization_id, customer_id, event_at",
    "fct_metric_values": "organization_id, metric_id, customer_id, slice_key",
    "fct_org_hourly_costs": "organization_id, usage_hour",
    "fct_org_daily_model_costs": "organization_id, cost_date",
    "dim_end_users": "organization_id, end_user_id",
}


# Facts that only ever gain rows (of newer ingest runs): a publish appends those rows.
APPEND_ONLY = ("fct_usage_costs", "fct_metric_events")
# Rows appended since a fact's last full sort, as a share of it, above which it is re-sorted.
RESORT_SHARE = 0.25


@dataclass(frozen=True)
class PublishedSnapshot:
    version: str
    path: Path
    tables: dict[str, int]
    appended: dict[str, int]  # the append-only facts that were extended, and by how many rows


def _version(now: datetime, serving_dir: Path) -> str:
    """v000042-20261124T120000Z: a sequence that never repeats, then the build's instant."""
    counter = serving_dir / "sequence"
    sequence = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(sequence))
    return f"v{sequence:06d}-{now:%Y%m%dT%H%M%SZ}"


def publish(
    warehouse: duckdb.DuckDBPyConnection,
    serving_dir: Path,
    current: Path,
    *,
    now: datetime,
    keep: int,
    input_fingerprint: str | None = None,
    rewrite_all: bool = False,
) -> PublishedSnapshot:
    snapshots = serving_dir / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    # a publish killed half-way leaves its .building file; one build writes at a time (the
    # warehouse has one writer), so any left now is such a leftover
    for leftover in snapshots.glob("*.building"):
        leftover.unlink(missing_ok=True)
    version = _version(now, serving_dir)
    target = snapshots / f"{version}.duckdb"
    staging = target.with_suffix(".building")
    tables: list[tuple[str, str]] = [
        (schema, name)
        for schema, name in warehouse.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (select unnest(?)) and table_type = 'BASE TABLE' order by 2",
            [list(PUBLISHED_SCHEMAS)],
        ).fetchall()
    ] + [("raw", name) for name in PUBLISHED_RAW_TABLES]
    previous = None if rewrite_all else current_snapshot_path(current)
    if previous is not None:
        shutil.copyfile(previous, staging)
        attach = "attach ? as snapshot"
    else:
        # the oldest storage format that holds our types: any DuckDB client >= 1.5 can read it
        attach = f"attach ? as snapshot (storage_version '{STORAGE_VERSION}')"
    warehouse.execute(attach, [str(staging)])
    counts: dict[str, int] = {}
    appended: dict[str, int] = {}
    try:
        sorted_rows = _sorted_rows(warehouse)
        published = {name for _, name in tables} | {"snapshot_info", "snapshot_tables"}
        for (name,) in warehouse.execute(
            "select table_name from information_schema.tables where table_catalog = 'snapshot'"
        ).fetchall():
            if name not in published:  # a mart the project no longer builds
                warehouse.execute(f'drop table snapshot.main."{name}"')
        for schema, name in tables:
            added = _append_new_rows(warehouse, schema, name, sorted_rows.get(name))
            if added is None:
                _replace(warehouse, schema, name)
                sorted_rows.pop(name, None)
            else:
                appended[name] = added
            counts[name] = warehouse.execute(
                f'select count(*) from snapshot.main."{name}"'
            ).fetchone()[0]
        _record_tables(warehouse, counts, sorted_rows)
        warehouse.execute("drop table if exists snapshot.main.snapshot_info")
        warehouse.execute(
            load_sql(SQL_DIR, "snapshot_info"),
            [version, now.replace(tzinfo=None), input_fingerprint],
        )
    finally:
        warehouse.execute("detach snapshot")
    os.replace(staging, target)
    _point_current(current, target)
    _prune(snapshots, keep=keep, current=target)
    return PublishedSnapshot(version=version, path=target, tables=counts, appended=appended)


def _replace(warehouse: duckdb.DuckDBPyConnection, schema: str, name: str) -> None:
    # identifiers come from the catalog, never from input
    order = f" order by {SORT_KEYS[name]}" if name in SORT_KEYS else ""
    warehouse.execute(
        f'create or replace table snapshot.main."{name}" as select * from {schema}."{name}"{order}'
    )


def _columns(warehouse: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in warehouse.execute(f"describe {relation}").fetchall()]


def _append_new_rows(
    warehouse: duckdb.DuckDBPyConnection, schema: str, name: str, sorted_rows: int | None
) -> int | None:
    """Append the rows of ingest runs newer than any in the copied snapshot's table and return
    how many; None when the table must be rewritten instead."""
    if name not in APPEND_ONLY or sorted_rows is None:
        return None
    source, copied = f'{schema}."{name}"', f'snapshot.main."{name}"'
    columns = _columns(warehouse, source)
    if ("ingest_run_id", "BIGINT") not in columns or columns != _columns(warehouse, copied):
        return None
    copied_rows, newest_run = warehouse.execute(
        f"select count(*), coalesce(max(ingest_run_id), -1) from {copied}"
    ).fetchone()
    same_rows, new_rows = warehouse.execute(
        f"select count(*) filter (where ingest_run_id <= $1), "
        f"count(*) filter (where ingest_run_id > $1) from {source}",
        [newest_run],
    ).fetchone()
    if same_rows != copied_rows or copied_rows + new_rows - sorted_rows > RESORT_SHARE * (
        copied_rows + new_rows
    ):
        return None
    order = f" order by {SORT_KEYS[name]}" if name in SORT_KEYS else ""
    warehouse.execute(
        f"insert into {copied} select * from {source} where ingest_run_id > $1{order}",
        [newest_run],
    )
    return new_rows


def _sorted_rows(warehouse: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per table of the copied snapshot: how many of its rows are in one sorted run (the rest
    were appended since). Empty for a new file."""
    exists = warehouse.execute(
        "select count(*) from information_schema.tables "
        "where table_catalog = 'snapshot' and table_name = 'snapshot_tables'"
    ).fetchone()[0]
    if not exists:
        return {}
    return dict(
        warehouse.execute(
            "select table_name, sorted_rows from snapshot.main.snapshot_tables"
        ).fetchall()
    )


def _record_tables(
    warehouse: duckdb.DuckDBPyConnection, counts: dict[str, int], sorted_rows: dict[str, int]
) -> None:
    warehouse.execute(
        "create or replace table snapshot.main.snapshot_tables "
        "(table_name varchar, row_count bigint, sorted_rows bigint)"
    )
    warehouse.executemany(
        "insert into snapshot.main.snapshot_tables values (?, ?, ?)",
        [(name, rows, sorted_rows.get(name, rows)) for name, rows in counts.items()],
    )


def _point_current(current: Path, target: Path) -> None:
    link = current.with_name(current.name + ".next")
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(target, current.parent))
    os.replace(link, current)


def _prune(snapshots: Path, *, keep: int, current: Path) -> None:
    """Delete the oldest snapshots; a reader that still has one open keeps its file handle."""
    versions = sorted(snapshots.glob("*.duckdb"))
    for old in versions[: max(0, len(versions) - keep)]:
        if old != current:
            old.unlink(missing_ok=True)


def current_snapshot_path(current: Path) -> Path | None:
    """The versioned file the stable path points at now, or None before the first publish."""
    return current.resolve() if current.exists() else None
