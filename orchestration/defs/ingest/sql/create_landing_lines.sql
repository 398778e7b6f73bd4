-- One row per line (JSONL) or row (CSV, Parquet) of the files being ingested in this run.
create or replace temp table landing_lines (
    organization_id varchar not null,
    source_file varchar not null,
    file_sha256 varchar not null,
    line_number bigint not null,
    raw_line varchar,
    -- set for events from the API inbox: their timestamps were checked against this instant
    received_at timestamp
);
