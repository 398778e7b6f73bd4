-- An organization's landing-store events after a sequence number, in order
-- (api/metrics/live.py; the index landing_events_org_seq).
select
    seq,
    event_id,
    body,
    received_at
from landing_events
where
    organization_id = :org
    and seq > :after
order by seq
