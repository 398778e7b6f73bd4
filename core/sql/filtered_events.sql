-- filtered_events for a metric's SQL (metric_sql.FILTERED_EVENTS_COLUMNS): one organization's
-- events in [window_start, window_end), of one customer ($customer_id) or of all of them
-- (null: a build's pre-computation, which the sandbox narrows to each customer and slice).
-- Read from `metric_event_rows`: in the API, the serving snapshot's fct_metric_events and the
-- events acknowledged since its build (api/metrics/live.py); in the build, the marts'.
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
from metric_event_rows
where
    organization_id = $org
    and ($customer_id is null or customer_id = $customer_id)
    and event_at >= $window_start
    and event_at < $window_end
