"""Run the whole build job in-process and say what it did, in numbers."""

from __future__ import annotations

import os
from dataclasses import dataclass

from orchestration.settings import Settings


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


def _metadata(result, asset: str) -> dict[str, object]:
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == asset:
            return {k: v.value for k, v in event.materialization.metadata.items()}
    return {}


def run_build(settings: Settings) -> BuildSummary:
    """Materialize every asset (ingest → dbt build → publish) in this process."""
    import dagster as dg

    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    from orchestration.definitions import defs

    job = defs.resolve_job_def("build_warehouse")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    ingest = _metadata(result, "raw_usage_events")
    publish = _metadata(result, "serving_snapshot")
    total_cost = None
    if publish:
        import duckdb

        with duckdb.connect(str(publish["path"]), read_only=True) as con:
            total_cost = str(con.execute("select cost_usd from snapshot_info").fetchone()[0])
    return BuildSummary(
        run_id=result.run_id,
        success=result.success,
        events_ingested=int(ingest.get("events_ingested", 0)),
        events_rejected=int(ingest.get("events_rejected", 0)),
        duplicates=int(ingest.get("duplicates", 0)),
        files_ingested=int(ingest.get("files_ingested", 0)),
        files_skipped=int(ingest.get("files_skipped", 0)),
        events_total=int(ingest.get("events_total", 0)),
        snapshot_version=publish.get("version"),
        snapshot_path=publish.get("path"),
        cost_usd_total=total_cost,
    )
