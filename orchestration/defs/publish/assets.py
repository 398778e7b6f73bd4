import dagster as dg

from orchestration.defs.publish.snapshot import publish
from orchestration.defs.resources import TallyhouseResource
from orchestration.defs.transform.assets import EVENT_FACTS, tallyhouse_dbt_models
from orchestration.lib.build_state import (
    exported_timezones,
    full_refresh_due,
    input_fingerprint,
    project_fingerprint,
)
from orchestration.lib.lake import load_marts

# every mart the dbt project builds (its facts and dimensions) goes into the snapshot, and
# the metric values the build pre-computes beside dbt (with dim_metrics)
MARTS = sorted(
    [key for key in tallyhouse_dbt_models.keys if key.path[-1].startswith(("fct_", "dim_"))]
    + [dg.AssetKey("fct_metric_values")]
)


@dg.asset(
    group_name="publish",
    kinds={"duckdb"},
    deps=MARTS,
    description="A new serving snapshot of the marts, switched in atomically at "
    "serving/current.duckdb; the API and analysts read only this.",
)
def serving_snapshot(context: dg.AssetExecutionContext, tallyhouse: TallyhouseResource):
    settings = tallyhouse.settings()
    now = tallyhouse.now()
    with tallyhouse.connect() as warehouse:
        if settings.engine == "spark":
            loaded = load_marts(warehouse, settings.lake_dir)
            context.log.info(f"read {len(loaded)} marts built by Spark from the lake: {loaded}")
        snapshot = publish(
            warehouse,
            settings.serving_dir,
            settings.current_snapshot,
            now=now,
            keep=settings.snapshots_kept,
            input_fingerprint=input_fingerprint(warehouse, settings, now),
            project_fingerprint=project_fingerprint(settings),
            rewrite_all=full_refresh_due(warehouse, settings),
            timezones=exported_timezones(warehouse),
            slice_rows=settings.build_slice_events,
            event_facts=EVENT_FACTS,
        )
    reused = ", ".join(f"{name} {rows:,} rows" for name, rows in snapshot.changed.items())
    started = {
        "new": "a new file",
        "copy": "a copy of the served snapshot",
        "recycled": "the oldest snapshot, recycled in place",
    }[snapshot.base]
    context.log.info(
        f"published snapshot {snapshot.version} at {settings.current_snapshot}, from {started}"
        + (f" (rows written: {reused}; other tables replaced)" if reused else "")
    )
    return dg.MaterializeResult(
        metadata={
            "version": snapshot.version,
            "path": str(snapshot.path),
            "current": str(settings.current_snapshot),
            "started_from": snapshot.base,
            **{f"rows.{name}": count for name, count in snapshot.tables.items()},
            **{f"written.{name}": rows for name, rows in snapshot.changed.items()},
        }
    )
