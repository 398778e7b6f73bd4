-- A compact rollup for breakdowns and trends: one organization's day per model and provider.
with daily_costs as (
    select * from {{ ref('fct_daily_costs') }}
),

final as (
    select
        {{ row_key(['cost_date', 'organization_id', 'model', 'provider']) }} as org_daily_model_cost_id,
        cost_date,
        organization_id,
        model,
        provider,
        cast(sum(event_count) as bigint) as event_count,
        cast(sum(unpriced_event_count) as bigint) as unpriced_event_count,
        cast(sum(cost_usd) as decimal(38, 18)) as cost_usd
    from daily_costs
    group by cost_date, organization_id, model, provider
)

select * from final
