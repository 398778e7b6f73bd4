-- Parse and validate every landing line; each gets either a typed event or a reject reason.
-- $1 now (UTC timestamp), $2 accepted age in seconds, $3 accepted lead in seconds; API inbox
-- events are judged against the instant they were received, landing files against now.
-- $4 the timestamp pattern and $5 the metadata's length limit: the write API's own rules
-- (core/event_body.py)
create or replace temp table landing_checked as
with valid_json as (
    select
        *,
        -- json functions raise on invalid text: only valid JSON goes further
        case when json_valid(raw_line) then raw_line end as json_line
    from landing_lines
),

parsed as (
    select
        *,
        case when json_type(json_line) = 'OBJECT' then json_line end as body,
        coalesce(json_type(json_line) = 'OBJECT', false) as is_object
    from valid_json
),

-- each document is parsed once for all its fields: a list of paths gives a list of answers
extracted as (
    select
        *,
        json_type(body, [
            '$.eventType', '$.metricName', '$.quantity', '$.idempotencyKey', '$.timestamp',
            '$.userId', '$.costUsd', '$.value', '$.metadata'
        ]) as body_types,
        json_extract_string(body, [
            '$.eventType', '$.metricName', '$.quantity', '$.idempotencyKey', '$.timestamp',
            '$.userId', '$.costUsd', '$.value'
        ]) as body_texts,
        json_extract(body, '$.metadata') as metadata
    from parsed
),

fields as (
    select
        organization_id,
        source_file,
        file_sha256,
        line_number,
        raw_line,
        received_at,
        is_object,
        body_types[1] as event_type_json,
        body_texts[1] as event_type,
        body_types[2] as metric_name_json,
        body_texts[2] as metric_name,
        body_types[3] as quantity_json,
        body_texts[3] as quantity_text,
        body_types[4] as key_json,
        body_texts[4] as idempotency_key,
        body_types[5] as timestamp_json,
        body_texts[5] as timestamp_text,
        body_types[6] as user_json,
        body_texts[6] as user_id,
        body_types[7] as cost_json,
        body_texts[7] as cost_text,
        body_types[8] as value_json,
        body_texts[8] as event_string,
        body_types[9] as metadata_json,
        metadata,
        -- metadata is valid JSON here; on anything but an object these read null
        json_type(metadata, [
            '$.model', '$.provider', '$.feature', '$.inputTokens', '$.outputTokens',
            '$.cacheReadTokens', '$.cacheWriteTokens', '$.reasoningTokens'
        ]) as metadata_types,
        json_extract_string(metadata, [
            '$.model', '$.provider', '$.feature', '$.inputTokens', '$.outputTokens',
            '$.cacheReadTokens', '$.cacheWriteTokens', '$.reasoningTokens'
        ]) as metadata_texts
    from extracted
),

typed as (
    select
        *,
        try_cast(quantity_text as decimal(18, 6)) as quantity,
        try_cast(cost_text as decimal(18, 9)) as caller_cost_usd,
        try_cast(try_cast(timestamp_text as timestamptz) as timestamp) as event_at,
        metadata_texts[1] as model,
        metadata_texts[2] as provider,
        metadata_texts[3] as feature,
        metadata_types[1] as model_json,
        metadata_types[2] as provider_json,
        metadata_types[3] as feature_json,
        metadata_types[4:8] as split_json,
        list_transform(
            metadata_texts[4:8], lambda tokens: try_cast(tokens as decimal(38, 6))
        ) as split_tokens
    from fields
),

checked as (
    select
        *,
        case
            when not is_object then 'malformed line: not a JSON object'
            when coalesce(event_type_json, 'MISSING') <> 'VARCHAR' or trim(event_type) = ''
                then 'eventType: required, a non-empty string'
            when length(event_type) > 100 then 'eventType: at most 100 characters'
            when coalesce(metric_name_json, 'MISSING') <> 'VARCHAR' or trim(metric_name) = ''
                then 'metricName: required, a non-empty string'
            when length(metric_name) > 100 then 'metricName: at most 100 characters'
            when quantity_json not in ('UBIGINT', 'BIGINT', 'DOUBLE') or quantity_json is null
                then 'quantity: required, a number'
            when quantity is null or quantity < 0 or quantity > 100000000000
                then 'quantity: must be between 0 and 100000000000'
            when key_json is not null and key_json not in ('VARCHAR', 'NULL')
                then 'idempotencyKey: must be a string'
            when length(idempotency_key) > 255 or trim(idempotency_key) = ''
                then 'idempotencyKey: 1 to 255 characters'
            -- as the API: a key is something a client logs and retries (NUL, newlines, ...)
            when regexp_matches(idempotency_key, '[\x00-\x1f\x7f]')
                then 'idempotencyKey: no control characters'
            when timestamp_json is not null and timestamp_json not in ('VARCHAR', 'NULL')
                then 'timestamp: must be an ISO-8601 string'
            when timestamp_text is not null
                and (event_at is null or not regexp_full_match(timestamp_text, $4))
                then 'timestamp: not an ISO-8601 date-time'
            when event_at > coalesce(received_at, $1) + to_seconds($3)
                then 'timestamp: more than 5 minutes in the future'
            when event_at < coalesce(received_at, $1) - to_seconds($2)
                then 'timestamp: older than the accepted backfill window'
            when user_json is not null and user_json not in ('VARCHAR', 'NULL')
                then 'userId: must be a string'
            when length(user_id) > 255 then 'userId: at most 255 characters'
            when cost_json is not null and cost_json not in ('UBIGINT', 'BIGINT', 'DOUBLE', 'NULL')
                then 'costUsd: must be a number'
            when cost_text is not null and (caller_cost_usd is null or caller_cost_usd < 0 or caller_cost_usd > 1000000)
                then 'costUsd: must be between 0 and 1000000'
            when value_json is not null and value_json not in ('VARCHAR', 'NULL')
                then 'value: must be a string'
            when length(event_string) > 1000 then 'value: at most 1000 characters'
            when metadata_json is not null and metadata_json not in ('OBJECT', 'NULL')
                then 'metadata: must be an object'
            when length(metadata::varchar) > $5 then 'metadata: at most ' || $5 || ' characters'
            when model_json not in ('VARCHAR', 'NULL') or provider_json not in ('VARCHAR', 'NULL')
                or feature_json not in ('VARCHAR', 'NULL')
                then 'metadata: model, provider and feature must be strings'
            when greatest(length(model), length(provider), length(feature)) > 255
                then 'metadata: model, provider and feature at most 255 characters'
            when list_bool_or(list_transform(
                    list_zip(split_json, split_tokens),
                    lambda x: x[1] is not null and x[1] <> 'NULL'
                    and (x[2] is null or x[2] < 0 or x[2] > 100000000000 or x[2] <> floor(x[2]))
                ))
                then 'metadata: token counts must be whole numbers between 0 and 100000000000'
        end as reject_reason
    from typed
)

select
    organization_id,
    source_file,
    file_sha256,
    line_number,
    raw_line,
    reject_reason,
    coalesce(idempotency_key, 'auto-' || left(file_sha256, 16) || '-' || line_number) as idempotency_key,
    event_type,
    metric_name,
    quantity,
    coalesce(event_at, received_at, $1) as event_at,
    user_id as end_user_id,
    caller_cost_usd,
    event_string,
    model,
    provider,
    feature,
    (split_tokens[1])::bigint as input_tokens,
    (split_tokens[2])::bigint as output_tokens,
    (split_tokens[3])::bigint as cache_read_tokens,
    (split_tokens[4])::bigint as cache_write_tokens,
    (split_tokens[5])::bigint as reasoning_tokens,
    json(metadata)::varchar as metadata,
    md5(to_json([
        event_type, metric_name, quantity::varchar, event_at::varchar, user_id,
        caller_cost_usd::varchar, event_string, json(metadata)::varchar
    ])) as body_hash
from checked;
