-- The stored events of one organization among some idempotency keys (a JSON array).
select
    idempotency_key,
    event_id,
    request_hash,
    body,
    received_at
from landing_events
where
    organization_id = :organization_id
    and idempotency_key in (select requested.value from json_each(:keys) as requested)
