"""Publish the marts as a new, immutable serving snapshot and switch to it atomically.

Each publish writes ``serving/snapshots/<version>.duckdb`` (a new file, never one that a
reader may have open), then points the stable path ``serving/current.duckdb`` at it with an
atomic rename of a symlink. Readers that opened the old snapshot keep reading it; new
readers see the new one; nobody ever sees half a build.
"""

from __future__ import annotations

import os
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


@dataclass(frozen=True)
class PublishedSnapshot:
    version: str
    path: Path
    tables: dict[str, int]


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
    # the oldest storage format that holds our types: any DuckDB client >= 1.5 can read it
    warehouse.execute(f"attach ? as snapshot (storage_version '{STORAGE_VERSION}')", [str(staging)])
    counts: dict[str, int] = {}
    try:
        for schema, name in tables:
            # identifiers come from the catalog above, never from input
            order = f" order by {SORT_KEYS[name]}" if name in SORT_KEYS else ""
            warehouse.execute(
                f'create table snapshot.main."{name}" as select * from {schema}."{name}"{order}'
            )
            counts[name] = warehouse.execute(
                f'select count(*) from snapshot.main."{name}"'
            ).fetchone()[0]
        warehouse.execute(
            load_sql(SQL_DIR, "snapshot_info"),
            [version, now.replace(tzinfo=None), input_fingerprint],
        )
    finally:
        warehouse.execute("detach snapshot")
    os.replace(staging, target)
    _point_current(current, target)
    _prune(snapshots, keep=keep, current=target)
    return PublishedSnapshot(version=version, path=target, tables=counts)


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
