{{ config(
    materialized=rollup_materialization(),
    incremental_strategy='delete+insert',
    unique_key='end_user_key',
    on_schema_change='fail'
) }}

with usage_costs as (
    select * from {{ ref('fct_usage_costs') }}
    where end_user_id is not null and {{ only_unfolded_ingest_runs() }}
),

fresh as (
    select
        {{ row_key(['organization_id', 'end_user_id']) }} as end_user_key,
        organization_id,
        end_user_id,
        min(event_at) as first_seen_at,
        max(event_at) as last_seen_at,
        count(*) as event_count,
        cast(sum(cost_usd) as decimal(38, 18)) as cost_usd,
        max(ingest_run_id) as last_ingest_run_id
    from usage_costs
    group by organization_id, end_user_id
),

final as (
    {{ folded_into_this(
        'fresh', 'end_user_key',
        ['end_user_key', 'organization_id', 'end_user_id'],
        [
            ('first_seen_at', 'min', 'timestamp'),
            ('last_seen_at', 'max', 'timestamp'),
            ('event_count', 'sum', 'bigint'),
            ('cost_usd', 'sum', 'decimal(38, 18)'),
            ('last_ingest_run_id', 'max', 'bigint'),
        ]
    ) }}
)

select * from final
