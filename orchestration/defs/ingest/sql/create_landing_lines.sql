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

-- Rows of CSV and Parquet files read straight into the fields validation looks at (landing.py,
-- typed staging): for each body field, the JSON type and text that JSON text of the row would
-- give, without writing and parsing that text. raw_line is written only for the rows refused
-- (landing_typed_raw_lines), from the file.
create or replace temp table landing_typed_fields (
    organization_id varchar not null,
    source_file varchar not null,
    file_sha256 varchar not null,
    line_number bigint not null,
    raw_line varchar,
    received_at timestamp,
    is_object boolean not null,
    event_type_json varchar,
    event_type varchar,
    metric_name_json varchar,
    metric_name varchar,
    quantity_json varchar,
    quantity_text varchar,
    key_json varchar,
    idempotency_key varchar,
    timestamp_json varchar,
    timestamp_text varchar,
    user_json varchar,
    user_id varchar,
    cost_json varchar,
    cost_text varchar,
    value_json varchar,
    event_string varchar,
    metadata_json varchar,
    metadata json
);

create or replace temp table landing_typed_raw_lines (
    source_file varchar not null,
    line_number bigint not null,
    raw_line varchar
);
