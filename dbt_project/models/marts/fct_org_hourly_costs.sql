-- A compact rollup for period totals: the API sums whole hours here.
with usage_costs as (
    select * from {{ ref('fct_usage_costs') }}
),

final as (
    select
        {{ row_key(['organization_id', dbt.date_trunc('hour', 'event_at')]) }} as org_hourly_cost_id,
        organization_id,
        {{ dbt.date_trunc('hour', 'event_at') }} as usage_hour,
        count(*) as event_count,
        cast(sum(cost_usd) as decimal(38, 18)) as cost_usd
    from usage_costs
    group by organization_id, {{ dbt.date_trunc('hour', 'event_at') }}
)

select * from final
