-- filtered_events for a metric's SQL: one organization, one customer, one timeframe.
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
from fct_metric_events
where
    organization_id = $org
    and customer_id = $customer_id
    and event_at >= $window_start
    and event_at < $window_end
