select count(distinct event_string) as unique_values
from fct_metric_events
where
    organization_id = $org
    and customer_id = $customer_id
    and event_name = $event_name
    and event_at >= $window_start
    and event_at < $window_end
