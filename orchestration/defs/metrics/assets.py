import dagster as dg

from core.control_store import engine_for
from core.metric_sandbox import SandboxLimits
from orchestration.defs.metrics.export import export_definitions
from orchestration.defs.metrics.precompute import precompute_values
from orchestration.defs.resources import TallyhouseResource


@dg.asset(
    group_name="metrics",
    kinds={"duckdb", "sqlite"},
    deps=["raw_usage_events"],
    description="The live metric definitions, copied from the control store into "
    "raw.metric_definitions; indexed ones that pass the API's own checks again are marked "
    "indexable, and fct_metric_values pre-computes them.",
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


@dg.asset(
    group_name="marts",
    kinds={"duckdb"},
    deps=["metric_definitions", "fct_metric_events"],
    description="One row per organization × indexed metric × customer × slice: each "
    "indexable metric's SQL evaluated alone, in a sandbox with its own time and memory limit, "
    "over every slice; also dim_metrics, each live metric's outcome (pre-computed, or why "
    "not). A metric that fails is skipped and answered on demand; the build goes on.",
)
def fct_metric_values(context: dg.AssetExecutionContext, tallyhouse: TallyhouseResource):
    settings = tallyhouse.settings()
    with tallyhouse.connect() as warehouse:
        report = precompute_values(
            warehouse,
            as_of=tallyhouse.now(),
            limits=SandboxLimits.for_build(settings),
            evaluate=settings.engine == "duckdb",
            log=context.log.warning,
            scratch=settings.warehouse_path.parent,
        )
    slowest = max(report.evaluated.items(), key=lambda item: item[1], default=None)
    context.log.info(
        f"{len(report.evaluated) - len(report.failed)} indexed metrics pre-computed "
        f"({report.values:,} values), {len(report.failed)} failed and left to on-demand"
        + (f"; slowest {slowest[0]} in {slowest[1]:.2f} s" if slowest else "")
    )
    return dg.MaterializeResult(
        metadata={
            "values": report.values,
            "evaluated": len(report.evaluated),
            "failed": dg.MetadataValue.json(report.failed),
            "seconds": dg.MetadataValue.json(
                {metric_id: round(seconds, 3) for metric_id, seconds in report.evaluated.items()}
            ),
        }
    )
