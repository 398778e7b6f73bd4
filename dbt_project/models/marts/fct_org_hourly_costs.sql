-- A compact rollup for period totals: the API sums whole hours here.
{{ config(
    materialized=rollup_materialization(),
    incremental_strategy='delete+insert',
    unique_key='org_hourly_cost_id',
    on_schema_change='fail'
) }}

with usage_costs as (
    select * from {{ ref('fct_usage_costs') }}
    where {{ only_unfolded_ingest_runs() }}
),

fresh as (
    select
        {{ row_key(['organization_id', dbt.date_trunc('hour', 'event_at')]) }} as org_hourly_cost_id,
        organization_id,
        {{ dbt.date_trunc('hour', 'event_at') }} as usage_hour,
        count(*) as event_count,
        cast(sum(cost_usd) as decimal(38, 18)) as cost_usd,
        max(ingest_run_id) as last_ingest_run_id
    from usage_costs
    group by organization_id, {{ dbt.date_trunc('hour', 'event_at') }}
),

final as (
    {{ folded_into_this(
        'fresh', 'org_hourly_cost_id',
        ['org_hourly_cost_id', 'organization_id', 'usage_hour'],
        [
            ('event_count', 'sum', 'bigint'),
            ('cost_usd', 'sum', 'decimal(38, 18)'),
            ('last_ingest_run_id', 'max', 'bigint'),
        ]
    ) }}
)

select * from final
