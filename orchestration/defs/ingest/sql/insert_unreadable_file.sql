-- A file that could not be read: one reject for the whole file, without a line
insert into raw.rejected_events (
    organization_id, source_file, source_line, reason, raw_line, ingest_run_id, rejected_at
)
values ($1, $2, null, $3, null, $4, $5);
