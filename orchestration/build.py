"""Run the whole build job in-process and say what it did, in numbers."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core.settings import Settings
from orchestration.lib.build_state import (
    LastBuild,
    current_snapshot_path,
    digest_of,
    record_last_build,
    served_snapshot,
    source_parts,
    unchanged_since_last_build,
    warehouse_state,
)

BUILD_LOCK_FILE = "build.lock"
# the configuration of a home's Dagster instance: Dagster's defaults, its usage statistics
# off, the event log through a pool, at Dagster's own path for it
INSTANCE_CONFIG = """\
telemetry:
  enabled: false
event_log_storage:
  module: orchestration.lib.run_records
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {base_dir}
"""
# what homes' Dagster folders got before the event log's pool: brought up to date
_FIRST_INSTANCE_CONFIG = "telemetry:\n  enabled: false\n"


@dataclass(frozen=True)
class BuildSummary:
    run_id: str
    success: bool
    events_ingested: int
    events_rejected: int
    duplicates: int
    files_ingested: int
    files_skipped: int
    events_total: int
    snapshot_version: str | None
    snapshot_path: str | None
    cost_usd_total: str | None
    published: bool  # False: nothing new since the serving snapshot, which is kept
    # True: nothing had changed since the last build (run_id): no run was started
    run_skipped: bool = False
    # Dagster asset checks on the snapshot, by name: passed, and their figures
    checks: dict[str, tuple[bool, dict[str, object]]] = field(default_factory=dict)


def _metadata(result, asset: str) -> dict[str, object]:
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == asset:
            return {k: v.value for k, v in event.materialization.metadata.items()}
    return {}


def run_build(
    settings: Settings, *, skip_unchanged: bool = False, log_file: Path | None = None
) -> BuildSummary:
    """Materialize every asset (ingest → dbt build → publish) in this process. With
    `skip_unchanged`, first compare the build's sources with the last successful build's: when
    nothing changed and its snapshot is still served, start no run and return its figures
    (orchestration/lib/build_state.py)."""
    with _one_build_at_a_time(settings):
        return _run_build(settings, skip_unchanged, log_file)


@contextlib.contextmanager
def _one_build_at_a_time(settings: Settings) -> Iterator[None]:
    """Builds of one home run one after another, whichever process starts them (a long-lived
    builder and a `tallyhouse build` beside it): the second waits for the first."""
    settings.root.mkdir(parents=True, exist_ok=True)
    with open(settings.root / BUILD_LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_build(settings: Settings, skip_unchanged: bool, log_file: Path | None) -> BuildSummary:
    parts = source_parts(settings, settings.clock())
    digest = digest_of(parts)
    if skip_unchanged and not settings.full_refresh:
        last = unchanged_since_last_build(settings, digest)
        if last is not None:
            return BuildSummary(
                run_id=last.run_id,
                success=True,
                events_ingested=0,
                events_rejected=0,
                duplicates=0,
                files_ingested=0,
                files_skipped=last.files_known,
                events_total=last.events_total,
                snapshot_version=last.snapshot_version,
                snapshot_path=str(settings.root.resolve() / last.snapshot_path),
                cost_usd_total=last.cost_usd_total,
                published=False,
                run_skipped=True,
            )
    summary = _run_job(settings, log_file)
    if summary.success and summary.snapshot_path and summary.snapshot_version:
        record_last_build(
            settings,
            LastBuild(
                source_digest=digest,
                snapshot_path=served_snapshot(settings),
                snapshot_version=summary.snapshot_version,
                run_id=summary.run_id,
                files_known=summary.files_ingested + summary.files_skipped,
                events_total=summary.events_total,
                cost_usd_total=summary.cost_usd_total,
                warehouse_state=warehouse_state(settings),
                source_parts=parts,
            ),
        )
    return summary


def ensure_instance_config(dagster_home: Path) -> None:
    """Dagster's defaults (run history in SQLite under this folder) with its event log written
    through a pool (orchestration/lib/run_records.py), without its usage statistics: as for
    dbt's, a build sends nothing anywhere. A file someone changed is theirs, kept as it is."""
    config = dagster_home / "dagster.yaml"
    if not config.exists() or config.read_text() == _FIRST_INSTANCE_CONFIG:
        config.write_text(
            INSTANCE_CONFIG.format(base_dir=dagster_home.resolve() / "history" / "runs")
        )


def _run_job(settings: Settings, log_file: Path | None) -> BuildSummary:
    """The build job, in this process. With `log_file`, the console gets only errors: what
    Dagster logs and what dbt prints go to that file (Dagster's whole event log, appended once
    the run ends); without it, all of it to the console, as Dagster and dbt print it."""
    import dagster as dg

    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    ensure_instance_config(settings.dagster_home)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    from orchestration.definitions import defs

    job = defs.resolve_job_def("build_warehouse")
    level = "DEBUG" if log_file is None else "ERROR"
    run_config = {"loggers": {"console": {"config": {"log_level": level}}, "progress": {}}}
    with dg.DagsterInstance.get() as instance:
        if log_file is None:
            result = job.execute_in_process(
                instance=instance, raise_on_error=False, run_config=run_config
            )
        else:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            with open(log_file, "a") as log, contextlib.redirect_stdout(log):
                # dbt's lines, which dagster-dbt prints to stdout
                result = job.execute_in_process(
                    instance=instance, raise_on_error=False, run_config=run_config
                )
                for entry in instance.all_logs(result.run_id):
                    stamp = datetime.fromtimestamp(entry.timestamp, UTC).isoformat()
                    level_name = logging.getLevelName(entry.level)
                    message = (entry.dagster_event.message if entry.dagster_event else None) or (
                        entry.user_message
                    )
                    log.write(f"{stamp} {level_name} {entry.step_key or '-'} {message}\n")
    ingest = _metadata(result, "raw_usage_events")
    publish = _metadata(result, "serving_snapshot")
    snapshot = publish.get("path") or current_snapshot_path(settings.current_snapshot)
    version = total_cost = None
    if snapshot:
        import duckdb

        with duckdb.connect(str(snapshot), read_only=True) as con:
            version, cost = con.execute(
                "select snapshot_version, cost_usd from snapshot_info"
            ).fetchall()[0]
            total_cost = None if cost is None else str(cost)
    return BuildSummary(
        run_id=result.run_id,
        success=result.success,
        events_ingested=int(ingest.get("events_ingested", 0)),
        events_rejected=int(ingest.get("events_rejected", 0)),
        duplicates=int(ingest.get("duplicates", 0)),
        files_ingested=int(ingest.get("files_ingested", 0)),
        files_skipped=int(ingest.get("files_skipped", 0)),
        events_total=int(ingest.get("events_total", 0)),
        snapshot_version=version,
        snapshot_path=str(snapshot) if snapshot else None,
        cost_usd_total=total_cost,
        published=bool(publish),
        checks={
            evaluation.check_name: (
                evaluation.passed,
                {name: value.value for name, value in evaluation.metadata.items()},
            )
            for evaluation in result.get_asset_check_evaluations()
            if evaluation.asset_key.to_user_string() == "serving_snapshot"
        },
    )
