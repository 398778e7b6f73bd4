-- Cost of one organization's events with $start <= event_at < $end (UTC, naive timestamps).
-- Whole hours come from the hourly mart; the partial hours at either edge from the fact.
with bounds as (
    select
        $start::timestamp as window_start,
        $end::timestamp as window_end,
        case
            when date_trunc('hour', $start::timestamp) = $start::timestamp then $start::timestamp
            else date_trunc('hour', $start::timestamp) + interval 1 hour
        end as hours_start,
        date_trunc('hour', $end::timestamp) as hours_end
),

whole_hours as (
    select coalesce(sum(hourly.cost_usd), 0) as cost_usd
    from fct_hourly_usage as hourly, bounds
    where
        hourly.organization_id = $org
        and hourly.usage_hour >= bounds.hours_start
        and hourly.usage_hour < bounds.hours_end
),

edges as (
    select coalesce(sum(fact.cost_usd), 0) as cost_usd
    from fct_usage_costs as fact, bounds
    where
        fact.organization_id = $org
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
