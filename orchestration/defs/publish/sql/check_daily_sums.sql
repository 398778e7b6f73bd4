-- fct_daily_costs against fct_usage_costs per organization, local day and end user, on the
-- organizations' days whose daily rows ingest runs after $1 changed (every day when $1 is -1):
-- how many groups were compared and how many differ in events or cost; then every daily row's
-- events and cost against the fact's totals, as the snapshot records them. $2 and $3 bound
-- the instants those days can hold (a day of any zone lies within its UTC date, a day either
-- side): the scan skips the fact's other row groups, which are sorted by organization and
-- instant (docs/reliability.md#the-days-the-daily-check-compares).
with touched as (
    select distinct
        organization_id,
        cost_date
    from fct_daily_costs
    where last_ingest_run_id > $1
),

daily as (
    select
        organization_id,
        cost_date,
        end_user_id,
        sum(event_count) as events,
        sum(cost_usd) as cost_usd
    from fct_daily_costs
    where (organization_id, cost_date) in (select (touched.organization_id, touched.cost_date) from touched)
    group by all
),

-- each event's day in its organization's time zone, worked out here again from its instant
-- (the same rule as dbt_project/macros/local_date.sql: this check fails if they ever differ)
fact_rows as (
    select
        fct_usage_costs.organization_id,
        cast(
            timezone(
                coalesce(dim_organizations.timezone, 'UTC'), timezone('UTC', fct_usage_costs.event_at)
            ) as date
        ) as cost_date,
        fct_usage_costs.end_user_id,
        fct_usage_costs.cost_usd
    from fct_usage_costs
    left join dim_organizations on fct_usage_costs.organization_id = dim_organizations.organization_id
    where fct_usage_costs.event_at between $2 and $3
),

fact as (
    select
        organization_id,
        cost_date,
        end_user_id,
        count(*) as events,
        sum(cost_usd) as cost_usd
    from fact_rows
    where (organization_id, cost_date) in (select (touched.organization_id, touched.cost_date) from touched)
    group by all
),

-- every daily row, in one pass
daily_totals as (
    select
        coalesce(sum(fct_daily_costs.event_count), 0) as events,
        coalesce(sum(fct_daily_costs.cost_usd), 0) as cost_usd
    from fct_daily_costs
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
    (select daily_totals.events from daily_totals) as daily_events,
    (select snapshot_info.events from snapshot_info) as fact_events,
    (select daily_totals.cost_usd from daily_totals) as daily_cost_usd,
    (select coalesce(snapshot_info.cost_usd, 0) from snapshot_info) as fact_cost_usd
from compared
