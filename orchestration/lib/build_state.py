"""Everything that decides what a build does, in one place: every fingerprint and every record.

Two questions, two records:

- **Must a build start at all?** A build is a function of its sources: the landing files, the
  API inbox, the metric definitions and the organizations' time zones (all in the control
  store), the dbt project with its price seeds, the settings and the build's UTC date.
  ``source_parts`` reads them all
  cheaply — a `stat` per landing file, a count and the last sequence number of the inbox,
  every definition row — before the build's ingest reads anything. When a build succeeds,
  its digest is written beside the serving snapshot it left current (``last_build.json`` in
  the home). A later `tallyhouse build` whose digest is the same, while that snapshot is
  still the current one and the warehouse file is as that build left it, has nothing to do:
  it says so and starts no Dagster run (docs/operations.md#builds-with-nothing-new). The
  digest is conservative: anything that might change a build changes it, and then the build
  runs in full and decides for itself, by the second record.
- **Once running, what must it rebuild?** ``input_fingerprint`` covers everything the marts
  are a function of: the dbt project's files, the price seeds, the engine, the build's UTC
  date (calendar days and "as of" prices move with it), and the raw layer — the row count of
  each table the ingest only appends to, and a hash of every row of the small tables it
  rewrites (metric definitions, the inbox watermark), leaving out columns that change with
  every build (when the definitions were exported). The ingest's own ledger
  (``raw.ingest_runs``, one row per run even when nothing was found) and the log of tested
  builds (``raw.tested_builds``), the record of the static models' builds
  (``raw.static_model_builds``) and the cache of landing files' hashes are left out. Each
  snapshot records the digest it was built from (``snapshot_info.input_fingerprint``).
  Beside it: whether dbt's unit tests are due (``code_fingerprint``), which models are
  static and when they were built from this code, and which events are already tested.

`tallyhouse build --dry-run` (orchestration/lib/build_plan.py) reads these records and says
what the next build would do and why.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa

from core.control_store import engine_for, landing_events, metric_definitions
from core.organizations import timezones
from core.settings import DBT_PROJECT_DIR, SEEDS_DIR, Settings
from core.sql import load_sql

APPEND_ONLY_RAW_TABLES = frozenset({"usage_events", "rejected_events", "landing_files"})
# the ledger of runs, tested builds, the anomaly mart's builds and the daily mart's checks, and
# a cache of file hashes
LEDGER_RAW_TABLES = frozenset(
    {
        "ingest_runs",
        "tested_builds",
        "static_model_builds",
        "landing_file_hashes",
        "cost_anomaly_builds",
        "daily_sums_checked",
    }
)
# columns that change with every build without changing what dbt builds
VOLATILE_COLUMNS = frozenset({"exported_at"})
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models", "macros")
_SQL_DIR = Path(__file__).parent / "sql"


def _project_files() -> list[Path]:
    files: list[Path] = []
    for name in PROJECT_FILES:
        path = DBT_PROJECT_DIR / name
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return files + sorted(SEEDS_DIR.glob("*.csv")) + sorted(SEEDS_DIR.glob("*.yml"))


def project_fingerprint(settings: Settings) -> str:
    """A digest of what turns raw rows into marts: the engine and the dbt project's files."""
    digest = hashlib.sha256(f"engine={settings.engine}\n".encode())
    for path in _project_files():
        digest.update(f"{path.relative_to(DBT_PROJECT_DIR.parent)}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


# the packages whose behaviour dbt's unit tests check along with the project's files
DBT_PACKAGES = ("dbt-core", "dbt-duckdb", "dbt-spark")
UNIT_TESTS_PASSED_FILE = "unit_tests_passed"


def code_fingerprint(settings: Settings) -> str:
    """The project's digest and the versions of dbt and its adapters: what dbt's unit tests
    are a function of (their inputs and expected rows are in the project's files)."""
    versions = []
    for package in DBT_PACKAGES:
        try:
            versions.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} absent")
    return hashlib.sha256(f"{project_fingerprint(settings)};{versions}".encode()).hexdigest()


def unit_tests_due(settings: Settings, code: str) -> bool:
    """dbt's unit tests test the models' code, not the data: a build runs them only when the
    code changed since they last passed in this home (docs/operations.md#unit-tests)."""
    marker = settings.root / UNIT_TESTS_PASSED_FILE
    return not marker.exists() or marker.read_text().strip() != code


def record_unit_tests_passed(settings: Settings, code: str) -> None:
    (settings.root / UNIT_TESTS_PASSED_FILE).write_text(code + "\n")


# what in a model's or macro's SQL makes its table depend on more than its parents' rows
ENVIRONMENT_READS = ("env_var(", "var(", "run_started_at", "invocation_id", "current_", "now()")


def static_nodes(manifest: Mapping[str, Any]) -> list[str]:
    """The seeds, and the models whose tables are a function of the seeds alone: every parent
    is one of these, and neither their SQL nor a macro they call reads the environment, dbt's
    variables or the clock (`dim_models` reads the build's as-of instant: not static). Their
    tables change only with the project's code (docs/operations.md#static-models). In the
    order dbt builds them: each after its parents."""
    macros = manifest.get("macros", {})

    def reads_environment(sql: str, called: list[str], seen: set[str]) -> bool:
        if any(marker in sql for marker in ENVIRONMENT_READS):
            return True
        for macro_id in called:
            if macro_id in seen or macro_id not in macros:
                continue
            seen.add(macro_id)
            macro = macros[macro_id]
            if reads_environment(
                macro.get("macro_sql", ""), macro.get("depends_on", {}).get("macros", []), seen
            ):
                return True
        return False

    nodes = {
        unique_id: node
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] in ("seed", "model")
    }
    static: dict[str, bool] = {}
    ordered: list[str] = []  # each after its parents

    def is_static(unique_id: str) -> bool:
        if unique_id not in static:
            node = nodes.get(unique_id)
            if node is None:  # a source, a snapshot, anything not built from the seeds
                static[unique_id] = False
            elif node["resource_type"] == "seed":
                static[unique_id] = True
            else:
                depends = node.get("depends_on", {})
                parents = [is_static(parent) for parent in depends.get("nodes", [])]
                static[unique_id] = all(parents) and not (
                    reads_environment(node.get("raw_code", ""), depends.get("macros", []), set())
                )
            if static[unique_id]:
                ordered.append(nodes[unique_id]["name"])
        return static[unique_id]

    for unique_id in sorted(nodes):
        is_static(unique_id)
    return ordered


def static_models_built(warehouse: duckdb.DuckDBPyConnection, code: str) -> datetime | None:
    """When the static models in this warehouse were last built, if that was from this code."""
    built = warehouse.execute(
        "select code_fingerprint, built_at from raw.static_model_builds "
        "order by built_at desc limit 1"
    ).fetchall()
    return built[0][1] if built and built[0][0] == code else None


def forget_static_models(warehouse: duckdb.DuckDBPyConnection) -> None:
    """Before a build rebuilds them: until it succeeds, their tables are of no known code."""
    warehouse.execute("delete from raw.static_model_builds")


def record_static_models(warehouse: duckdb.DuckDBPyConnection, code: str, now: datetime) -> None:
    """After a dbt build that built the static models and passed their tests."""
    warehouse.execute(
        "insert into raw.static_model_builds (code_fingerprint, built_at) values (?, ?)",
        [code, now.replace(tzinfo=None)],
    )


def input_fingerprint(
    warehouse: duckdb.DuckDBPyConnection, settings: Settings, now: datetime
) -> str:
    digest = hashlib.sha256()
    digest.update(f"project={project_fingerprint(settings)};date={now:%Y-%m-%d}\n".encode())
    tables = warehouse.execute(
        "select table_name from information_schema.tables "
        "where table_schema = 'raw' and table_type = 'BASE TABLE' order by 1"
    ).fetchall()
    for (name,) in tables:
        if name in LEDGER_RAW_TABLES:
            continue
        # identifiers come from the catalog above, never from input
        if name in APPEND_ONLY_RAW_TABLES:
            state = warehouse.execute(f'select count(*) from raw."{name}"').fetchall()
        else:
            columns = ", ".join(
                f'"{column}"'
                for (column,) in warehouse.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'raw' and table_name = ? order by ordinal_position",
                    [name],
                ).fetchall()
                if column not in VOLATILE_COLUMNS
            )
            state = warehouse.execute(
                f'select count(*), bit_xor(hash({columns})) from raw."{name}"'
            ).fetchall()
        digest.update(f"raw.{name}={state}\n".encode())
    return digest.hexdigest()


def published_info(current: Path, column: str) -> str | None:
    """A column of the current serving snapshot's snapshot_info (None: no snapshot, or one
    from before that column was recorded)."""
    if not current.exists():
        return None
    try:
        with duckdb.connect(str(current), read_only=True) as snapshot:
            columns = {
                name
                for (name,) in snapshot.execute(
                    "select column_name from information_schema.columns "
                    "where table_name = 'snapshot_info'"
                ).fetchall()
            }
            if column not in columns:
                return None
            # the column name is one of ours, checked against the catalog above
            return snapshot.execute(f'select "{column}" from snapshot_info').fetchall()[0][0]
    except duckdb.Error:
        return None


def published_fingerprint(current: Path) -> str | None:
    """The digest the current serving snapshot was built from (None: none, or an older one)."""
    return published_info(current, "input_fingerprint")


def catch_up_bounds(
    warehouse: duckdb.DuckDBPyConnection, *, rebuild: bool, slice_events: int
) -> list[tuple[int, int]]:
    """A backlog of new ingest runs (a cold build, a full refresh, a long pause) priced in
    slices: the last ingest run and the events of each slice of about `slice_events` events
    that dbt's catch-up passes build the event facts through, oldest first, before the build's
    own pass takes what is left. Empty when the new runs fit one pass. Each pass's memory and
    temporary disk are those of one slice, not of the backlog (docs/operations.md#catch-up).
    `rebuild`: the facts are rebuilt from the first run (a full refresh)."""
    built = -1
    exists = warehouse.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'fct_usage_costs'"
    ).fetchall()[0][0]
    if exists and not rebuild:
        built = warehouse.execute(
            "select coalesce(max(ingest_run_id), -1) from marts.fct_usage_costs"
        ).fetchall()[0][0]
    runs = warehouse.execute(
        "select ingest_run_id, events_ingested from raw.ingest_runs "
        "where ingest_run_id > ? and events_ingested > 0 order by 1",
        [built],
    ).fetchall()
    bounds: list[tuple[int, int]] = []
    pending = 0
    for run, events in runs:
        pending += events
        if pending >= slice_events:
            bounds.append((run, pending))
            pending = 0
    if bounds and pending == 0:
        bounds.pop()  # the last slice is the build's own pass
    return bounds


def record_tested_build(warehouse: duckdb.DuckDBPyConnection, now: datetime) -> None:
    """After a dbt build whose tests all passed: every event ingested so far was tested."""
    warehouse.execute(
        "insert into raw.tested_builds (tested_through_ingest_run, tested_at) "
        "select coalesce(max(ingest_run_id), -1), ? from raw.usage_events",
        [now.replace(tzinfo=None)],
    )


# ---- must a build start at all: the sources' digest and the last build's record ----

STATE_FILE = "last_build.json"
# settings that never change what a build produces: the clock (its date is in the digest) and
# where the home lives (what is in it is digested: landing files, store, warehouse, snapshot),
# so a home moved or copied whole is as its last build left it
UNBUILT_SETTINGS = {"now", "home"}


@dataclass(frozen=True)
class LastBuild:
    """A successful build: what it started from, the snapshot it left current, its figures."""

    source_digest: str
    snapshot_path: str  # the snapshot it left current, relative to the home (served_snapshot)
    snapshot_version: str
    run_id: str
    files_known: int
    events_total: int
    cost_usd_total: str | None
    # the warehouse file as the build left it: anything that wrote to it since (a scheduled
    # run, a hand-made change) or removed it means the build must run
    warehouse_state: list[list[int] | None]
    # the digest of each source, so that a later build can say which one changed
    source_parts: dict[str, str] | None = None


def source_parts(settings: Settings, now: datetime) -> dict[str, str]:
    """A digest of each source a build starts from, by what a person calls it."""
    landing = hashlib.sha256()
    files = 0
    for folder, _, names in (
        sorted(os.walk(settings.landing_dir)) if settings.landing_dir.is_dir() else []
    ):
        for name in sorted(names):
            stat = os.stat(os.path.join(folder, name))
            relative = os.path.relpath(os.path.join(folder, name), settings.landing_dir)
            landing.update(f"\n{relative}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
            files += 1
    with engine_for(settings.control_store_url).connect() as store:
        inbox = store.execute(sa.select(sa.func.count(), sa.func.max(landing_events.c.seq))).one()
        definitions = store.execute(
            sa.select(metric_definitions).order_by(metric_definitions.c.metric_id)
        ).all()
    metrics = hashlib.sha256(b"".join(repr(tuple(row)).encode() for row in definitions))
    zones = timezones(engine_for(settings.control_store_url))
    return {
        "dbt project and price seeds": project_fingerprint(settings),
        "settings": hashlib.sha256(
            settings.model_dump_json(exclude=UNBUILT_SETTINGS).encode()
        ).hexdigest(),
        "date": f"{now:%Y-%m-%d}",
        "landing files": f"{files}:{landing.hexdigest()}",
        "API inbox": f"{tuple(inbox)}",
        "metric definitions": metrics.hexdigest(),
        "organization time zones": json.dumps(zones, sort_keys=True),
    }


def digest_of(parts: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def last_build(settings: Settings) -> LastBuild | None:
    """What the last successful build in this home recorded, if any."""
    try:
        return LastBuild(**json.loads((settings.root / STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def warehouse_state(settings: Settings) -> list[list[int] | None]:
    """Size and modification time (ns) of the warehouse file and of its write-ahead log."""
    state: list[list[int] | None] = []
    for path in (settings.warehouse_path, settings.warehouse_path.with_suffix(".duckdb.wal")):
        try:
            stat = path.stat()
        except FileNotFoundError:
            state.append(None)
        else:
            state.append([stat.st_size, stat.st_mtime_ns])
    return state


def record_last_build(settings: Settings, build: LastBuild) -> None:
    path = settings.root / STATE_FILE
    staging = path.with_name(f"{STATE_FILE}.{os.getpid()}.tmp")
    staging.write_text(json.dumps(asdict(build), indent=2))
    os.replace(staging, path)


def unchanged_since_last_build(settings: Settings, digest: str) -> LastBuild | None:
    """The last successful build, when nothing has changed since it and its snapshot is still
    the one served; else None (the build must run)."""
    build = last_build(settings)
    if build is None:
        return None
    served = served_snapshot(settings)
    unchanged = (
        build.source_digest == digest
        and served is not None
        and served == build.snapshot_path
        and build.warehouse_state == warehouse_state(settings)
    )
    return build if unchanged else None


def current_snapshot_path(current: Path) -> Path | None:
    """The versioned file the stable path points at now, or None before the first publish."""
    return current.resolve() if current.exists() else None


def served_snapshot(settings: Settings) -> str | None:
    """The snapshot served now, as the last build's record names it: its path relative to the
    home (absolute when it lies outside)."""
    served = current_snapshot_path(settings.current_snapshot)
    if served is None:
        return None
    root = settings.root.resolve()
    return str(served.relative_to(root)) if served.is_relative_to(root) else str(served)


def create_timezones_table(warehouse: duckdb.DuckDBPyConnection) -> None:
    warehouse.execute(load_sql(_SQL_DIR, "create_organization_timezones"))


def exported_timezones(warehouse: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The organizations' zones the raw layer holds (none exported yet: all are UTC)."""
    create_timezones_table(warehouse)
    rows = warehouse.execute(
        "select organization_id, timezone from raw.organization_timezones order by 1"
    ).fetchall()
    return dict(rows)


def full_refresh_due(warehouse: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether this build rebuilds the marts from the raw layer: asked for (`--full-refresh`),
    or the organizations' time zones differ from those the served snapshot was built with
    (each daily row is dated in them; a home with no snapshot has nothing to rebuild)."""
    if settings.full_refresh:
        return True
    if current_snapshot_path(settings.current_snapshot) is None:
        return False
    published = json.loads(published_info(settings.current_snapshot, "timezones") or "{}")
    return exported_timezones(warehouse) != published
