import dagster as dg

from orchestration.defs.metrics.export import export_definitions
from orchestration.defs.resources import TallyhouseResource
from orchestration.lib.control_store import engine_for
from orchestration.lib.metric_sandbox import SandboxLimits


@dg.asset(
    group_name="metrics",
    kinds={"duckdb", "sqlite"},
    deps=["raw_usage_events"],
    description="The live metric definitions, copied from the control store into "
    "raw.metric_definitions; indexed ones that pass validation and a time-limited trial "
    "run are marked indexable, and dbt pre-computes their values.",
)
def metric_definitions(context: dg.AssetExecutionContext, tallyhouse: TallyhouseResource):
    settings = tallyhouse.settings()
    limits = SandboxLimits.from_settings(settings)
    with tallyhouse.connect() as warehouse:
        report = export_definitions(
            warehouse,
            engine_for(settings.control_store_url),
            now=tallyhouse.now(),
            limits=limits,
        )
    for metric_id, reason in report.not_indexable.items():
        context.log.warning(f"metric {metric_id} is not pre-computed: {reason}")
    context.log.info(
        f"{report.definitions} metric definitions exported, {report.indexed} to pre-compute, "
        f"{len(report.not_indexable)} indexed ones left to on-demand evaluation"
    )
    return dg.MaterializeResult(
        metadata={
            "definitions": report.definitions,
            "indexed": report.indexed,
            "not_indexable": dg.MetadataValue.json(report.not_indexable),
        }
    )
