-- The pre-computed values of indexed metrics, and each live metric's outcome: written whole
-- by every build that builds the marts (orchestration/defs/metrics/precompute.py).
create schema if not exists marts;

create or replace table marts.fct_metric_values (
    metric_value_id varchar not null primary key,
    organization_id varchar not null,
    metric_id varchar not null,
    definition_version integer not null,
    customer_id varchar not null,
    slice_key varchar not null,
    slice_type varchar not null,
    relative_days integer,
    slice_start timestamp,
    slice_end timestamp,
    result_rows bigint not null,
    metric_value double,
    as_of timestamp not null
);

create or replace table marts.dim_metrics (
    metric_id varchar not null primary key,
    organization_id varchar not null,
    name varchar not null,
    query_type varchar not null,
    definition_version integer not null,
    precomputed boolean not null,
    -- the build tried and failed (an error, its time or memory limit): not tried again
    -- while the definition is the same
    precompute_failed boolean not null,
    not_precomputed_reason varchar,
    as_of timestamp not null
);
