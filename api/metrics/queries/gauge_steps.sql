-- WEIGHTED_SUM: a gauge's steps from window_start on. The first is the value in force at
-- window_start: the customer's last event of the type before it, if any (ordered as LATEST
-- orders them); then each event inside [window_start, window_end), in time order.
with carried as (
    select
        $window_start as step_at,
        event_value,
        '' as event_id
    from fct_metric_events
    where
        organization_id = $org
        and customer_id = $customer_id
        and event_name = $event_name
        and event_at < $window_start
    order by event_at desc, event_id desc
    limit 1
),

inside as (
    select
        event_at as step_at,
        event_value,
        event_id
    from fct_metric_events
    where
        organization_id = $org
        and customer_id = $customer_id
        and event_name = $event_name
        and event_at >= $window_start
        and event_at < $window_end
)

select
    steps.step_at,
    steps.event_value
from (
    select * from carried
    union all
    select * from inside
) as steps
order by steps.step_at, steps.event_id
