"""Publish the marts as a new, immutable serving snapshot and switch to it atomically.

Each publish writes ``serving/snapshots/<version>.duckdb`` (a new file, never one that a
reader may have open), then points the stable path ``serving/current.duckdb`` at it with an
atomic rename of a symlink. Readers that opened the old snapshot keep reading it; new
readers see the new one; nobody ever sees half a build.

A publish costs what changed, not the history (docs/operations.md#snapshots): the new file
starts as the oldest snapshot, which this publish would otherwise delete, recycled in place
when no reader has it open (else as a copy of the served one); the event facts, which only
ever gain rows of newer ingest runs, get just those rows appended (sorted among themselves);
the rollups get the rows that newer runs changed; every other table is replaced. A table is
rewritten whole and sorted when its columns changed, when the served rows are not exactly the
warehouse's, when the rows written since its last sort pass a quarter of it, on a full
refresh, and when the snapshot was built by another version of the dbt project.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from core.sql import load_sql
from orchestration.defs.ingest import inbox
from orchestration.lib.build_state import current_snapshot_path, published_info

SQL_DIR = Path(__file__).parent / "sql"
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
    "fct_daily_usage_type_costs": "organization_id, cost_date",
    "fct_daily_cost_forecasts": "organization_id, cost_date",
    "fct_cost_anomalies": "organization_id, dimension, cost_date",
    "fct_monthly_cost_explanations": "organization_id, month_start",
    "dim_end_users": "organization_id, end_user_id",
}


# What a rollup (a mart with `last_ingest_run_id`, folded by its first column) sums, among its
# columns: the publish compares their totals in the copy it wrote in place with the warehouse's.
ROLLUP_MEASURES = ("event_count", "cost_usd")

# Rows written in place since a table's last full sort, as a share of it, above which it is
# rewritten sorted (so that row-group skipping stays effective).
RESORT_SHARE = 0.25


@dataclass(frozen=True)
class PublishedSnapshot:
    version: str
    path: Path
    tables: dict[str, int]
    changed: dict[str, int]  # tables brought up to date in place, and how many rows were written
    # what the file started as: "new" (empty), "copy" (of the served snapshot) or "recycled"
    # (an old snapshot this publish would have deleted, brought up to date in place)
    base: str = "new"


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
    project_fingerprint: str | None = None,
    rewrite_all: bool = False,
    slice_rows: int = 10_000_000,
    event_facts: tuple[str, ...] = (),
    timezones: dict[str, str] | None = None,
) -> PublishedSnapshot:
    """`event_facts`: the tables that only ever gain rows (of newer ingest runs), to which a
    publish appends those rows (the dbt project's event_fact models). `timezones`: the
    organizations' zones the marts were dated in, recorded in snapshot_info for the API."""
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
    if previous is not None and published_info(current, "project_fingerprint") != (
        project_fingerprint
    ):
        previous = None  # built by other models: nothing of it is reused
    if previous is None:
        base = "new"
        # the oldest storage format that holds our types: any DuckDB client >= 1.5 can read it
        warehouse.execute(
            f"attach ? as snapshot (storage_version '{STORAGE_VERSION}')", [str(staging)]
        )
    elif _attach_recycled(
        warehouse, _due_for_pruning(snapshots, keep=keep, current=previous), staging,
        project_fingerprint,
    ):  # fmt: skip
        base = "recycled"
    else:
        base = "copy"
        shutil.copyfile(previous, staging)
        warehouse.execute("attach ? as snapshot", [str(staging)])
    counts: dict[str, int] = {}
    changed: dict[str, int] = {}
    try:
        appended = _appended_rows(warehouse)
        fact_before = _fact_before(warehouse)
        published = {name for _, name in tables} | {"snapshot_info", "snapshot_tables"}
        for (name,) in warehouse.execute(
            "select table_name from information_schema.tables where table_catalog = 'snapshot'"
        ).fetchall():
            if name not in published:  # a mart the project no longer builds
                warehouse.execute(f'drop table snapshot.main."{name}"')
        for schema, name in tables:
            written = _write_changes(
                warehouse, schema, name, appended.get(name), name in event_facts
            )
            if written is None:
                _replace(warehouse, schema, name, slice_rows, name in event_facts)
                appended[name] = 0
            else:
                changed[name] = written
                appended[name] += written
            counts[name] = warehouse.execute(
                f'select count(*) from snapshot.main."{name}"'
            ).fetchone()[0]
        _record_tables(warehouse, counts, appended)
        cost = _total_cost(
            warehouse,
            counts.get("fct_usage_costs", 0),
            fact_before if "fct_usage_costs" in changed else None,
        )
        warehouse.execute("drop table if exists snapshot.main.snapshot_info")
        warehouse.execute(
            load_sql(SQL_DIR, "snapshot_info"),
            [
                version,
                now.replace(tzinfo=None),
                input_fingerprint,
                project_fingerprint,
                cost,
                inbox.watermark(warehouse),
                json.dumps(timezones or {}, sort_keys=True),
            ],
        )
    finally:
        warehouse.execute("detach snapshot")
    os.replace(staging, target)
    _point_current(current, target)
    _prune(snapshots, keep=keep, current=target)
    return PublishedSnapshot(
        version=version, path=target, tables=counts, changed=changed, base=base
    )


def _fact_before(warehouse: duckdb.DuckDBPyConnection) -> tuple[int, int] | None:
    """The events the file's snapshot_info counted and the newest ingest run of its cost fact,
    before this publish writes to it (None: a new file, or one without either)."""
    found = warehouse.execute(
        "select count(*) from information_schema.columns where table_catalog = 'snapshot' "
        "and (table_name, column_name) in "
        "(('snapshot_info', 'events'), ('fct_usage_costs', 'ingest_run_id'))"
    ).fetchone()[0]
    if found != 2:
        return None
    (events,) = warehouse.execute("select events from snapshot.main.snapshot_info").fetchone()
    (newest,) = warehouse.execute(
        "select coalesce(max(ingest_run_id), -1) from snapshot.main.fct_usage_costs"
    ).fetchone()
    return events, newest


def _total_cost(
    warehouse: duckdb.DuckDBPyConnection, rows: int, appended_to: tuple[int, int] | None
) -> str | None:
    """The cost fact's total (of its `rows` rows), as exact text. When this publish only
    appended rows of newer runs to it (`appended_to`: what the file held before), the file's
    recorded total plus theirs, added in DuckDB's DECIMAL, instead of a sum over every row
    (~1 s at 10M events)."""
    fact = "snapshot.main.fct_usage_costs"
    if appended_to is not None and appended_to[0] > 0:
        events, newest = appended_to
        added, total = warehouse.execute(
            f"select count(*), (select cost_usd from snapshot.main.snapshot_info) "
            f"+ coalesce(sum(cost_usd), 0) from {fact} where ingest_run_id > $1",
            [newest],
        ).fetchone()
        if events + added == rows and total is not None:
            return str(total)
    (total,) = warehouse.execute(f"select sum(cost_usd) from {fact}").fetchone()
    return None if total is None else str(total)


def _replace(
    warehouse: duckdb.DuckDBPyConnection, schema: str, name: str, slice_rows: int, fact: bool
) -> None:
    """Write a table whole, sorted; an event fact of more than `slice_rows` rows is sorted and
    appended a slice of ingest runs at a time, so that the sort spills one slice, not the
    history (each slice's row groups are still narrow in the sort keys)."""
    # identifiers come from the catalog, never from input
    source, copied = f'{schema}."{name}"', f'snapshot.main."{name}"'
    order = f" order by {SORT_KEYS[name]}" if name in SORT_KEYS else ""
    sliced = fact and "ingest_run_id" in dict(_columns(warehouse, source))
    slices = _run_slices(warehouse, source, slice_rows) if sliced else []
    if len(slices) <= 1:
        warehouse.execute(f"create or replace table {copied} as select * from {source}{order}")
        return
    warehouse.execute(f"create or replace table {copied} as select * from {source} limit 0")
    for first, last in slices:
        warehouse.execute(
            f"insert into {copied} by name select * from {source} "
            f"where ingest_run_id between $1 and $2{order}",
            [first, last],
        )


def _run_slices(
    warehouse: duckdb.DuckDBPyConnection, source: str, slice_rows: int
) -> list[tuple[int, int]]:
    """The first and last ingest run of consecutive slices of about `slice_rows` rows."""
    slices: list[tuple[int, int]] = []
    first, rows = None, 0
    for run, count in warehouse.execute(
        f"select ingest_run_id, count(*) from {source} group by 1 order by 1"
    ).fetchall():
        first = run if first is None else first
        rows += count
        if rows >= slice_rows:
            slices.append((first, run))
            first, rows = None, 0
    if first is not None:
        slices.append((first, run))
    return slices


def _columns(warehouse: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in warehouse.execute(f"describe {relation}").fetchall()]


def _write_changes(
    warehouse: duckdb.DuckDBPyConnection,
    schema: str,
    name: str,
    appended: int | None,
    fact: bool,
) -> int | None:
    """Bring the copied table up to the warehouse's by writing only what newer ingest runs
    changed, and return how many rows that was; None when it must be rewritten instead.

    An event fact gains the rows of runs newer than its newest; a rollup's rows whose newest
    run (`last_ingest_run_id`) is newer than its newest replace the rows with their key (the
    first column) and join the others, which newer runs did not change. Then the copy's row
    count (and a rollup's sums of `ROLLUP_MEASURES`) must equal the warehouse's."""
    if appended is None:  # no copy, or a copy from before this was recorded
        return None
    source, copied = f'{schema}."{name}"', f'snapshot.main."{name}"'
    columns = _columns(warehouse, source)
    names = [column for column, _ in columns]
    if columns != _columns(warehouse, copied):
        return None
    if fact and "ingest_run_id" in names:
        run, key = "ingest_run_id", None
    elif "last_ingest_run_id" in names:
        run, key = "last_ingest_run_id", names[0]
    else:
        return None
    copied_rows, newest = warehouse.execute(
        f"select count(*), coalesce(max({run}), -1) from {copied}"
    ).fetchone()
    total, new_rows = warehouse.execute(
        f"select count(*), count(*) filter (where {run} > $1) from {source}", [newest]
    ).fetchone()
    if appended + new_rows > RESORT_SHARE * total:
        return None  # re-sorted whole, so that row-group skipping stays effective
    if key is None and total - new_rows != copied_rows:
        return None  # the served rows are not the warehouse's rows of those runs
    if key is not None:
        warehouse.execute(
            f'delete from {copied} where "{key}" in (select "{key}" from {source} where {run} > $1)',
            [newest],
        )
    order = f" order by {SORT_KEYS[name]}" if name in SORT_KEYS else ""
    warehouse.execute(
        f"insert into {copied} by name select * from {source} where {run} > $1{order}",
        [newest],
    )
    # the rows, and a rollup's measures, equal the warehouse's once written
    sums = "".join(f", sum({m})" for m in ROLLUP_MEASURES if key and m in names)
    check = f"select count(*){sums} from {{}}"
    if (
        warehouse.execute(check.format(copied)).fetchall()
        != warehouse.execute(check.format(source)).fetchall()
    ):
        return None
    return new_rows


def _appended_rows(warehouse: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per table of the copied snapshot: rows written by later publishes since it was last
    written whole and sorted. Empty for a new file."""
    exists = warehouse.execute(
        "select count(*) from information_schema.columns where table_catalog = 'snapshot' "
        "and table_name = 'snapshot_tables' and column_name = 'appended_rows'"
    ).fetchone()[0]
    if not exists:
        return {}
    return dict(
        warehouse.execute(
            "select table_name, appended_rows from snapshot.main.snapshot_tables"
        ).fetchall()
    )


def _record_tables(
    warehouse: duckdb.DuckDBPyConnection, counts: dict[str, int], appended: dict[str, int]
) -> None:
    warehouse.execute(
        "create or replace table snapshot.main.snapshot_tables "
        "(table_name varchar, row_count bigint, appended_rows bigint)"
    )
    warehouse.executemany(
        "insert into snapshot.main.snapshot_tables (table_name, row_count, appended_rows) "
        "values (?, ?, ?)",
        [(name, rows, appended[name]) for name, rows in counts.items()],
    )


def _point_current(current: Path, target: Path) -> None:
    link = current.with_name(current.name + ".next")
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(target, current.parent))
    os.replace(link, current)


def _beyond_kept(snapshots: Path, *, keep: int, adding: int = 0) -> list[Path]:
    """The oldest snapshots beyond `keep`, oldest first, once `adding` more are counted."""
    versions = sorted(snapshots.glob("*.duckdb"))
    return versions[: max(0, len(versions) + adding - keep)]


def _due_for_pruning(snapshots: Path, *, keep: int, current: Path) -> list[Path]:
    """The snapshots that the prune after this publish would delete, newest first (the new
    one counted), never the served one."""
    due = _beyond_kept(snapshots, keep=keep, adding=1)
    return [path for path in reversed(due) if path != current]


def _attach_recycled(
    warehouse: duckdb.DuckDBPyConnection,
    candidates: list[Path],
    staging: Path,
    project_fingerprint: str | None,
) -> bool:
    """Attach as `snapshot`, at `staging`, the first candidate that no reader has open and
    that the same dbt project built; True if one was. A candidate is renamed first, so no
    reader can open it by its name any more; one that is still open (DuckDB's lock on the
    file refuses the writer, in this process or another) or that other models built is
    deleted, as the prune would have done: a reader keeps reading its open file."""
    for candidate in candidates:
        try:
            os.replace(candidate, staging)
            warehouse.execute("attach ? as snapshot", [str(staging)])
        except (OSError, duckdb.Error):
            staging.unlink(missing_ok=True)
            continue
        try:
            built_by = warehouse.execute(
                "select max(project_fingerprint) from snapshot.main.snapshot_info"
            ).fetchall()
        except duckdb.Error:  # from before the project was recorded
            built_by = None
        if built_by == [(project_fingerprint,)]:
            return True
        warehouse.execute("detach snapshot")
        staging.unlink(missing_ok=True)
    return False


def _prune(snapshots: Path, *, keep: int, current: Path) -> None:
    """Delete the oldest snapshots; a reader that still has one open keeps its file handle."""
    for old in _beyond_kept(snapshots, keep=keep):
        if old != current:
            old.unlink(missing_ok=True)
