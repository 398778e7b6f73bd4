-- One organization's events of one type in the serving snapshot, in time order: the instants
-- and quantities its organization-wide simple values read, kept in memory while the snapshot
-- is served (api/metrics/organization_values.py).
select
    event_at,
    event_value
from fct_metric_events
where
    organization_id = $org
    and event_name = $event_name
order by event_at
