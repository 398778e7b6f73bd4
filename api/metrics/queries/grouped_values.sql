-- A simple metric's ingredients per group: the events of one type in [window_start,
-- window_end), of one customer or of all ($customer_id null), grouped by the metadata value
-- at $group_path (null: one group of everything). LATEST's order: event time, then event id.
select
    json_extract_string(properties, $group_path) as group_key,
    count(*) as event_count,
    sum(event_value) as quantity_sum,
    min(event_value) as quantity_min,
    max(event_value) as quantity_max,
    count(distinct event_string) as unique_values,
    arg_max(event_value, strftime(event_at, '%Y-%m-%dT%H:%M:%S.%f') || event_id) as latest_value
from metric_event_rows
where
    organization_id = $org
    and ($customer_id is null or customer_id = $customer_id)
    and event_name = $event_name
    and event_at >= $window_start
    and event_at < $window_end
group by 1
