-- The warehouse's raw layer: what was ingested, from which file, and what was refused.
create schema if not exists raw;

create table if not exists raw.usage_events (
    event_id varchar not null,
    organization_id varchar not null,
    idempotency_key varchar not null,
    event_type varchar not null,
    metric_name varchar not null,
    quantity decimal(18, 6) not null,
    event_at timestamp not null,
    received_at timestamp not null,
    end_user_id varchar,
    caller_cost_usd decimal(18, 9),
    event_string varchar,
    model varchar,
    provider varchar,
    feature varchar,
    input_tokens bigint,
    output_tokens bigint,
    cache_read_tokens bigint,
    cache_write_tokens bigint,
    reasoning_tokens bigint,
    metadata varchar,
    body_hash varchar not null,
    source_file varchar not null,
    source_line bigint not null,
    ingest_run_id bigint not null
    -- One event per (organization_id, idempotency_key) and per event_id: the ingest admits
    -- only keys it has never seen (an anti-join against this table, in the same transaction),
    -- and every dbt build tests event_id (derived from that pair) unique here. No index:
    -- DuckDB keeps index keys in memory, which at tens of millions of events would not fit
    -- the build's memory limit.
);

create table if not exists raw.landing_files (
    file_sha256 varchar not null,
    organization_id varchar not null,
    path varchar not null,
    size_bytes bigint not null,
    status varchar not null,
    lines bigint not null,
    events_ingested bigint not null,
    events_rejected bigint not null,
    duplicates bigint not null,
    ingest_run_id bigint not null,
    ingested_at timestamp not null,
    primary key (organization_id, file_sha256)
);

create table if not exists raw.rejected_events (
    organization_id varchar not null,
    source_file varchar not null,
    source_line bigint,
    reason varchar not null,
    raw_line varchar,
    ingest_run_id bigint not null,
    rejected_at timestamp not null
);

-- One row per dbt build whose data tests all passed: the events of ingest runs up to
-- tested_through_ingest_run have been tested, so the tests of later builds read only the
-- event-level rows of newer runs (dbt_project/macros/tests.sql).
create table if not exists raw.tested_builds (
    tested_through_ingest_run bigint not null,
    tested_at timestamp not null
);

-- One row per publish whose daily-sums check passed (orchestration/defs/publish/checks.py):
-- the daily mart's rows of ingest runs up to checked_through_ingest_run were compared with the
-- event fact; the next check compares the days that newer runs changed, while the project
-- and the time zones the marts were built with stay the same.
create table if not exists raw.daily_sums_checked (
    checked_through_ingest_run bigint not null,
    project_fingerprint varchar,
    timezones varchar,
    checked_at timestamp not null
);

-- One row per dbt build that built the price models which read only the seeds (and the
-- seeds): the project's code they were built from. A later build with the same code leaves
-- them as they are (orchestration/lib/build_state.py, static_models_built).
create table if not exists raw.static_model_builds (
    code_fingerprint varchar not null,
    built_at timestamp not null
);

create table if not exists raw.ingest_runs (
    ingest_run_id bigint not null primary key,
    started_at timestamp not null,
    files_ingested bigint not null,
    files_skipped bigint not null,
    events_ingested bigint not null,
    events_rejected bigint not null,
    duplicates bigint not null
);

-- A cache of landing files' content hashes by path, size and modification time: a build reads
-- again only the files whose size or time changed (orchestration/defs/ingest/landing.py).
create table if not exists raw.landing_file_hashes (
    relative_path varchar not null primary key,
    size_bytes bigint not null,
    modified_ns bigint not null,
    file_sha256 varchar not null
);
