"""What a build is made of, as one digest: a build whose inputs match the serving snapshot's has
nothing to do.

The digest covers everything the marts are a function of: the dbt project's files, the price
seeds, the engine, the build's UTC date (calendar days and "as of" prices move with it), and
the raw layer — the row count of each table the ingest only appends to, and a hash of every
row of the small tables it rewrites (metric definitions, the inbox watermark), leaving out
columns that change with every build (when the definitions were exported). The ingest's
own ledger (``raw.ingest_runs``, one row per run even when nothing was found) and the log of
tested builds (``raw.tested_builds``) and the cache of landing files' hashes are left out.
Each snapshot records the digest it was built from (``snapshot_info.input_fingerprint``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from importlib import metadata
from pathlib import Path

import duckdb

from orchestration.settings import DBT_PROJECT_DIR, SEEDS_DIR, Settings

APPEND_ONLY_RAW_TABLES = frozenset({"usage_events", "rejected_events", "landing_files"})
# the ledger of runs and tested builds, and a cache of file hashes
LEDGER_RAW_TABLES = frozenset({"ingest_runs", "tested_builds", "landing_file_hashes"})
# columns that change with every build without changing what dbt builds
VOLATILE_COLUMNS = frozenset({"exported_at"})
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models", "macros")


def _project_files() -> list[Path]:
    files: list[Path] = []
    for name in PROJECT_FILES:
        path = DBT_PROJECT_DIR / name
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return files + sorted(SEEDS_DIR.glob("*.csv"))


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
        "insert into raw.tested_builds "
        "select coalesce(max(ingest_run_id), -1), ? from raw.usage_events",
        [now.replace(tzinfo=None)],
    )
