-- WEIGHTED_SUM, per group (one group when $group_path is null): each (customer, group)'s
-- steps from window_start on, of one customer or all ($customer_id null). The first is the
-- value in force at window_start (that customer's last event of the group before it), then
-- each event inside [window_start, window_end), in time order (ties: event id).
with scoped as (
    select
        customer_id,
        json_extract_string(properties, $group_path) as group_key,
        event_at,
        event_id,
        event_value
    from metric_event_rows
    where
        organization_id = $org
        and ($customer_id is null or customer_id = $customer_id)
        and event_name = $event_name
        and event_at < $window_end
),

carried as (
    select
        customer_id,
        group_key,
        $window_start as step_at,
        '' as event_id,
        arg_max(event_value, strftime(event_at, '%Y-%m-%dT%H:%M:%S.%f') || event_id)
            as event_value
    from scoped
    where event_at < $window_start
    group by customer_id, group_key
),

inside as (
    select
        customer_id,
        group_key,
        event_at as step_at,
        event_id,
        event_value
    from scoped
    where event_at >= $window_start
)

select
    steps.customer_id,
    steps.group_key,
    steps.step_at,
    steps.event_value
from (
    select * from carried
    union all
    select * from inside
) as steps
order by steps.customer_id, steps.group_key, steps.step_at, steps.event_id
