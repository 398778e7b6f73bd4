import dagster as dg

from orchestration.defs.publish.snapshot import publish
from orchestration.defs.resources import TallyhouseResource

MARTS = [
    "fct_usage_costs",
    "fct_daily_costs",
    "fct_period_costs",
    "fct_hourly_usage",
    "dim_models",
    "dim_end_users",
]


@dg.asset(
    group_name="publish",
    kinds={"duckdb"},
    deps=[dg.AssetKey(name) for name in MARTS],
    description="A new serving snapshot of the marts, switched in atomically at "
    "serving/current.duckdb; the API and analysts read only this.",
)
def serving_snapshot(context: dg.AssetExecutionContext, tallyhouse: TallyhouseResource):
    settings = tallyhouse.settings()
    with tallyhouse.connect() as warehouse:
        snapshot = publish(
            warehouse,
            settings.serving_dir,
            settings.current_snapshot,
            now=tallyhouse.now(),
            keep=settings.snapshots_kept,
        )
    context.log.info(f"published snapshot {snapshot.version} at {settings.current_snapshot}")
    return dg.MaterializeResult(
        metadata={
            "version": snapshot.version,
            "path": str(snapshot.path),
            "current": str(settings.current_snapshot),
            **{f"rows.{name}": count for name, count in snapshot.tables.items()},
        }
    )
