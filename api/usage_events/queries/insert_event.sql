insert into landing_events (
    organization_id, idempotency_key, event_id, request_hash, body, received_at
) values (:organization_id, :idempotency_key, :event_id, :request_hash, :body, :received_at)
