-- Why each organization's cost moved from one calendar month of its own to the next
-- (docs/insights.md#explain): for each month with a cost, each segment (model × usage type)
-- of it or of the month before, with both months' units and costs and the segment's parts of
-- the change. A month's parts sum exactly to its change; the API explains any two periods with
-- the same macro (explain_components).
with monthly as (
    select
        organization_id,
        cast({{ dbt.date_trunc('month', 'cost_date') }} as date) as month_start,
        model,
        usage_type,
        cast(sum(units) as decimal(38, 6)) as units,
        cast(sum(cost_usd) as decimal(30, 18)) as cost_usd
    from {{ ref('fct_daily_usage_type_costs') }}
    group by organization_id, cast({{ dbt.date_trunc('month', 'cost_date') }} as date), model, usage_type
),

months as (
    select distinct
        organization_id,
        month_start
    from monthly
),

-- each month's segments as the current period, and again as the base of the month after
both_months as (
    select
        organization_id,
        month_start,
        model,
        usage_type,
        cast(0 as decimal(38, 6)) as base_units,
        cast(0 as decimal(30, 18)) as base_cost_usd,
        units as current_units,
        cost_usd as current_cost_usd
    from monthly
    union all
    select
        organization_id,
        cast({{ dbt.dateadd('month', 1, 'month_start') }} as date) as month_start,
        model,
        usage_type,
        units as base_units,
        cost_usd as base_cost_usd,
        cast(0 as decimal(38, 6)) as current_units,
        cast(0 as decimal(30, 18)) as current_cost_usd
    from monthly
),

segments as (
    select
        both_months.organization_id,
        both_months.month_start,
        both_months.model,
        both_months.usage_type,
        cast(sum(both_months.base_units) as decimal(38, 6)) as base_units,
        cast(sum(both_months.base_cost_usd) as decimal(30, 18)) as base_cost_usd,
        cast(sum(both_months.current_units) as decimal(38, 6)) as current_units,
        cast(sum(both_months.current_cost_usd) as decimal(30, 18)) as current_cost_usd
    from both_months
    inner join months
        on
        both_months.organization_id = months.organization_id
        and both_months.month_start = months.month_start
    group by both_months.organization_id, both_months.month_start, both_months.model, both_months.usage_type
),

explained as (
    {{ explain_components('segments', ['organization_id', 'month_start']) }}
),

final as (
    select
        organization_id,
        month_start,
        model,
        usage_type,
        status,
        base_units,
        cast(base_cost_usd as decimal(38, 18)) as base_cost_usd,
        current_units,
        cast(current_cost_usd as decimal(38, 18)) as current_cost_usd,
        cast(change_usd as decimal(38, 18)) as change_usd,
        cast(volume_usd as decimal(38, 18)) as volume_usd,
        cast(mix_usd as decimal(38, 18)) as mix_usd,
        price_usd,
        new_usd,
        discontinued_usd
    from explained
)

select * from final
