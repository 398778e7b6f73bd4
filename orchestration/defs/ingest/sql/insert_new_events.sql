-- $1 ingest run id, $2 now: one row per new event, its id derived from (organization, key)
-- by the event contract's macro event_id (core/event_body.py)
insert into raw.usage_events (
    event_id, organization_id, idempotency_key, event_type, metric_name, quantity, event_at,
    received_at, end_user_id, caller_cost_usd, event_string, model, provider, feature,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    metadata, body_hash, source_file, source_line, ingest_run_id
)
select
    event_id(checked.organization_id, checked.idempotency_key) as event_id,
    checked.organization_id,
    checked.idempotency_key,
    checked.event_type,
    checked.metric_name,
    checked.quantity,
    checked.event_at,
    $2 as received_at,
    checked.end_user_id,
    checked.caller_cost_usd,
    checked.event_string,
    checked.model,
    checked.provider,
    checked.feature,
    checked.input_tokens,
    checked.output_tokens,
    checked.cache_read_tokens,
    checked.cache_write_tokens,
    checked.reasoning_tokens,
    checked.metadata,
    checked.body_hash,
    checked.source_file,
    checked.line_number as source_line,
    $1 as ingest_run_id
from landing_checked as checked
where
    checked.reject_reason is null
    and not exists (
        select 1
        from landing_not_new as not_new
        where
            not_new.source_file = checked.source_file
            and not_new.line_number = checked.line_number
    );
