-- The segments of an explanation: per (model, usage type), or per value of $by (model,
-- provider or feature, with events as units), the units and cost of the base dates
-- [$base_first, $base_last] and of the current ones [$first_date, $last_date], inclusive dates
-- of the organization's calendar. api/insights/service.py works out their parts of the change
-- with the explain_components macro (dbt_project/macros/explain.sql).
with by_usage_type as (
    select
        model as first_key,
        usage_type as second_key,
        cost_date,
        units,
        cost_usd
    from fct_daily_usage_type_costs
    where
        $by is null
        and organization_id = $org
        and (cost_date between $base_first and $base_last or cost_date between $first_date and $last_date)
),

by_dimension as (
    select
        case $by
            when 'model' then model
            when 'provider' then provider
            when 'feature' then feature
        end as first_key,
        null as second_key,
        cost_date,
        event_count as units,
        cost_usd
    from fct_daily_costs
    where
        $by is not null
        and organization_id = $org
        and (cost_date between $base_first and $base_last or cost_date between $first_date and $last_date)
),

dated as (
    select * from by_usage_type
    union all
    select * from by_dimension
)

select
    first_key,
    second_key,
    coalesce(sum(units) filter (where cost_date between $base_first and $base_last), 0) as base_units,
    coalesce(sum(cost_usd) filter (where cost_date between $base_first and $base_last), 0) as base_cost_usd,
    coalesce(sum(units) filter (where cost_date between $first_date and $last_date), 0) as current_units,
    coalesce(sum(cost_usd) filter (where cost_date between $first_date and $last_date), 0)
        as current_cost_usd
from dated
group by first_key, second_key
