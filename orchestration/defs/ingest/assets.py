from datetime import timedelta

import dagster as dg

from core.control_store import engine_for
from orchestration.defs.ingest.landing import ingest
from orchestration.defs.resources import TallyhouseResource


@dg.asset(
    group_name="ingest",
    kinds={"duckdb", "python"},
    description="Landing files ingested into raw.usage_events, each file exactly once; "
    "bad lines quarantined in raw.rejected_events with their reason.",
)
def raw_usage_events(context: dg.AssetExecutionContext, tallyhouse: TallyhouseResource):
    settings = tallyhouse.settings()
    with tallyhouse.connect() as con:
        report = ingest(
            con,
            settings.landing_dir,
            now=tallyhouse.now(),
            max_age=timedelta(days=settings.max_event_age_days),
            max_future=timedelta(seconds=settings.max_future_seconds),
            store=engine_for(settings.control_store_url),
            batch_events=settings.ingest_batch_events,
        )
        total = con.execute("select count(*) from raw.usage_events").fetchone()[0]
    context.log.info(
        f"ingest run {report.ingest_run_id}: {report.files_ingested} new files "
        f"({report.files_skipped} already ingested), {report.events_ingested} events ingested, "
        f"{report.events_rejected} rejected, {report.duplicates} duplicates "
        f"({report.inbox_events_read} events read from the API inbox)"
    )
    return dg.MaterializeResult(
        metadata={
            "ingest_run_id": report.ingest_run_id,
            "files_ingested": report.files_ingested,
            "files_skipped": report.files_skipped,
            "events_ingested": report.events_ingested,
            "events_rejected": report.events_rejected,
            "duplicates": report.duplicates,
            "inbox_events_read": report.inbox_events_read,
            "rejected_files": dg.MetadataValue.json(report.rejected_files),
            "events_total": total,
        }
    )
