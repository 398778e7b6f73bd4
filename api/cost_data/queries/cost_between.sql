-- Cost of one organization's events with $window_start <= event_at < $window_end (UTC).
-- Whole hours come from the hourly mart; the partial hours at either edge from the fact.
with bounds as (
    select
        $org as organization_id,
        $window_start::timestamp as window_start,
        $window_end::timestamp as window_end,
        case
            when date_trunc('hour', $window_start::timestamp) = $window_start::timestamp
                then $window_start::timestamp
            else date_trunc('hour', $window_start::timestamp) + interval 1 hour
        end as hours_start,
        date_trunc('hour', $window_end::timestamp) as hours_end
),

whole_hours as (
    select coalesce(sum(hourly.cost_usd), 0) as cost_usd
    from fct_org_hourly_costs as hourly
    inner join bounds
        on
        hourly.organization_id = bounds.organization_id
        and hourly.usage_hour >= bounds.hours_start
        and hourly.usage_hour < bounds.hours_end
),

edges as (
    select coalesce(sum(fact.cost_usd), 0) as cost_usd
    from fct_usage_costs as fact
    inner join bounds
        on
        fact.organization_id = bounds.organization_id
        and fact.event_at >= bounds.window_start
        and fact.event_at < bounds.window_end
        and (
            bounds.hours_start >= bounds.hours_end
            or fact.event_at < bounds.hours_start
            or fact.event_at >= bounds.hours_end
        )
)

select whole_hours.cost_usd + edges.cost_usd as cost_usd
from whole_hours, edges
