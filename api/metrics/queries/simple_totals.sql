-- One customer's events of one type in [window_start, window_end): whole hours from the
-- hourly mart, the partial hours at either edge from the events themselves, and the events
-- acknowledged since the snapshot's build (unbuilt_metric_events, api/metrics/live.py).
with whole_hours as (
    select
        sum(event_count) as event_count,
        sum(quantity_sum) as quantity_sum,
        min(quantity_min) as quantity_min,
        max(quantity_max) as quantity_max
    from fct_hourly_usage
    where
        organization_id = $org
        and customer_id = $customer_id
        and event_type = $event_name
        and usage_hour >= $hours_start
        and usage_hour < $hours_end
),

edges as (
    select
        count(*) as event_count,
        sum(event_value) as quantity_sum,
        min(event_value) as quantity_min,
        max(event_value) as quantity_max
    from fct_metric_events
    where
        organization_id = $org
        and customer_id = $customer_id
        and event_name = $event_name
        and event_at >= $window_start
        and event_at < $window_end
        and (event_at < $hours_start or event_at >= $hours_end)
),

unbuilt as (
    select
        count(*) as event_count,
        sum(event_value) as quantity_sum,
        min(event_value) as quantity_min,
        max(event_value) as quantity_max
    from unbuilt_metric_events
    where
        customer_id = $customer_id
        and event_name = $event_name
        and event_at >= $window_start
        and event_at < $window_end
)

select
    coalesce(whole_hours.event_count, 0) + edges.event_count + unbuilt.event_count
        as event_count,
    coalesce(whole_hours.quantity_sum, 0) + coalesce(edges.quantity_sum, 0)
    + coalesce(unbuilt.quantity_sum, 0) as quantity_sum,
    least(whole_hours.quantity_min, edges.quantity_min, unbuilt.quantity_min) as quantity_min,
    greatest(whole_hours.quantity_max, edges.quantity_max, unbuilt.quantity_max)
        as quantity_max
from whole_hours, edges, unbuilt
