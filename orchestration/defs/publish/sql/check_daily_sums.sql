-- fct_daily_costs against fct_usage_costs per organization, local day and end user: how many
-- groups there are, how many differ in events or cost, and both grand totals.
with daily as (
    select
        organization_id,
        cost_date,
        end_user_id,
        sum(event_count) as events,
        sum(cost_usd) as cost_usd
    from fct_daily_costs
    group by all
),

-- each event's day in its organization's time zone, worked out here again from its instant
-- (the same rule as dbt_project/macros/local_date.sql: this check fails if they ever differ)
fact as (
    select
        fct_usage_costs.organization_id,
        cast(
            timezone(
                coalesce(dim_organizations.timezone, 'UTC'), timezone('UTC', fct_usage_costs.event_at)
            ) as date
        ) as cost_date,
        fct_usage_costs.end_user_id,
        count(*) as events,
        sum(fct_usage_costs.cost_usd) as cost_usd
    from fct_usage_costs
    left join dim_organizations on fct_usage_costs.organization_id = dim_organizations.organization_id
    group by all
),

compared as (
    select
        daily.events as daily_events,
        fact.events as fact_events,
        daily.cost_usd as daily_cost,
        fact.cost_usd as fact_cost
    from daily
    full outer join fact
        on
        daily.organization_id = fact.organization_id
        and daily.cost_date = fact.cost_date
        and daily.end_user_id is not distinct from fact.end_user_id
)

select
    count(*) as groups_compared,
    count(*) filter (
        where
        daily_events is distinct from fact_events
        or daily_cost is distinct from fact_cost
    ) as groups_differing,
    coalesce(sum(daily_cost), 0) as daily_cost_usd,
    coalesce(sum(fact_cost), 0) as fact_cost_usd
from compared
