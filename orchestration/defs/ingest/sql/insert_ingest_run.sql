insert into raw.ingest_runs (
    ingest_run_id, started_at, files_ingested, files_skipped, events_ingested, events_rejected,
    duplicates
)
values ($1, $2, $3, $4, $5, $6, $7);
