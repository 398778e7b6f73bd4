-- The metric definitions of the last build, exported from the control store: the build
-- pre-computes the indexable ones (orchestration/defs/metrics/precompute.py).
create schema if not exists raw;

create table if not exists raw.metric_definitions (
    metric_id varchar not null primary key,
    organization_id varchar not null,
    name varchar not null,
    query_type varchar not null,
    aggregation_type varchar,
    event_name varchar,
    value_type varchar,
    sql_definition varchar,
    -- the query as it runs: validated and re-rendered, comments removed
    runnable_sql varchar,
    definition_version integer not null,
    indexable boolean not null,
    not_indexed_reason varchar,
    exported_at timestamp not null
);

drop table if exists raw.metric_trial_events;
