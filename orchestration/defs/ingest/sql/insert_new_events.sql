-- $1 ingest run id, $2 now: one row per new event, its id derived from (organization, key)
insert into raw.usage_events
select
    'evt_' || substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
    || substr(h, 17, 4) || '-' || substr(h, 21, 12) as event_id,
    organization_id,
    idempotency_key,
    event_type,
    metric_name,
    quantity,
    event_at,
    $2 as received_at,
    end_user_id,
    caller_cost_usd,
    event_string,
    model,
    provider,
    feature,
    input_tokens,
    output_tokens,
    cache_read_tokens,
    cache_write_tokens,
    reasoning_tokens,
    metadata,
    body_hash,
    source_file,
    line_number as source_line,
    $1 as ingest_run_id
from (
    select
        *,
        md5(organization_id || chr(31) || idempotency_key) as h
    from landing_classified
    where outcome = 'new'
) as new_events;
