-- One customer's events in the serving snapshot, in time order (ties: event id), as
-- metric_event_rows has them: the rows the customer's values read, kept in memory while the
-- snapshot is served (api/metrics/customer_events.py).
select
    event_id,
    organization_id,
    customer_id,
    event_name,
    metric_name,
    event_value,
    event_string,
    properties,
    event_at,
    cost_usd
from fct_metric_events
where
    organization_id = $org
    and customer_id = $customer_id
order by event_at, event_id
