insert into raw.landing_files (
    file_sha256, organization_id, path, size_bytes, status, lines, events_ingested,
    events_rejected, duplicates, ingest_run_id, ingested_at
)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);
