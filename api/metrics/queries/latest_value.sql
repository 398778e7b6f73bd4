-- LATEST: the value of one customer's latest event of one type in [window_start, window_end):
-- the greatest event_at and, among events at that same instant, the greatest event_id.
select event_value
from fct_metric_events
where
    organization_id = $org
    and customer_id = $customer_id
    and event_name = $event_name
    and event_at >= $window_start
    and event_at < $window_end
order by event_at desc, event_id desc
limit 1
