-- A compact rollup for period totals: the API sums whole hours here.
{{ config(
    materialized=rollup_materialization(),
    incremental_strategy='delete+insert',
    unique_key='usage_hour',
    on_schema_change='fail'
) }}

with usage_costs as (
    select * from {{ ref('fct_usage_costs') }}
    where {{ only_touched(dbt.date_trunc('hour', 'event_at'), ref('fct_usage_costs')) }}
),

final as (
    select
        {{ row_key(['organization_id', dbt.date_trunc('hour', 'event_at')]) }} as org_hourly_cost_id,
        organization_id,
        {{ dbt.date_trunc('hour', 'event_at') }} as usage_hour,
        count(*) as event_count,
        cast(sum(cost_usd) as decimal(38, 18)) as cost_usd,
        max(ingest_run_id) as last_ingest_run_id
    from usage_costs
    group by organization_id, {{ dbt.date_trunc('hour', 'event_at') }}
)

select * from final
