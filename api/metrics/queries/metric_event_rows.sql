-- The events a metric value reads: the serving snapshot's fct_metric_events and the events
-- the write API acknowledged since its build (`unbuilt_metric_events`, registered by
-- api/metrics/live.py from type_unbuilt_events.sql).
create or replace temp view metric_event_rows as
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
union all by name
select * from unbuilt_metric_events;
