-- One organization's events as a metric's SQL sees them (filtered_events' columns), for a
-- build's pre-computation: the sandbox narrows them to each customer and slice.
select
    event_id,
    customer_id,
    event_name,
    metric_name,
    event_value,
    event_string,
    properties,
    event_at as timestamp,
    cost_usd
from marts.fct_metric_events
where organization_id = $org
