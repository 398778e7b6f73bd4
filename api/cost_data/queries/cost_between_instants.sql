-- One organization's cost of events with $from_instant <= event_at < $to_instant (a part of an hour).
select coalesce(sum(cost_usd), 0) as cost_usd
from fct_usage_costs
where
    organization_id = $org
    and event_at >= $from_instant
    and event_at < $to_instant
