-- Parse and validate every landing line; each gets either a typed event or a reject reason.
-- $now (UTC timestamp), $max_age and $max_future (seconds): API inbox events are judged
-- against the instant they were received, landing files against now. $max_…, $blank_pattern,
-- $timestamp_pattern, $key_forbidden and $reason_…: the event contract's limits and reasons
-- (core/event_body.py, sql_rules), which the write API checks in the same order.
-- JSONL lines and the API inbox's bodies (landing_lines) are parsed here; CSV and Parquet rows
-- come already split into the same fields (landing_typed_fields).
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

json_fields as (
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
        metadata
    from extracted
),

fields as (
    select * from json_fields
    union all by name
    select * from landing_typed_fields
),

with_metadata as (
    select
        *,
        -- metadata is valid JSON here; on anything but an object these read null
        json_type(metadata, [
            '$.model', '$.provider', '$.feature', '$.inputTokens', '$.outputTokens',
            '$.cacheReadTokens', '$.cacheWriteTokens', '$.reasoningTokens'
        ]) as metadata_types,
        json_extract_string(metadata, [
            '$.model', '$.provider', '$.feature', '$.inputTokens', '$.outputTokens',
            '$.cacheReadTokens', '$.cacheWriteTokens', '$.reasoningTokens'
        ]) as metadata_texts
    from fields
),

typed as (
    select
        *,
        try_cast(quantity_text as decimal(18, 6)) as quantity,
        -- the sign as sent: -1e-9 rounds to a decimal zero, yet it is below 0
        try_cast(quantity_text as double) as quantity_double,
        try_cast(cost_text as decimal(18, 9)) as caller_cost_usd,
        try_cast(cost_text as double) as cost_double,
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
        ) as split_tokens,
        list_transform(
            metadata_texts[4:8], lambda tokens: try_cast(tokens as double)
        ) as split_doubles
    from with_metadata
),

checked as (
    select
        *,
        case
            when not is_object then $reason_not_object
            when coalesce(event_type_json, 'MISSING') <> 'VARCHAR'
                or regexp_full_match(event_type, $blank_pattern)
                then $reason_event_type_required
            when length(event_type) > $max_name_chars then $reason_event_type_length
            when coalesce(metric_name_json, 'MISSING') <> 'VARCHAR'
                or regexp_full_match(metric_name, $blank_pattern)
                then $reason_metric_name_required
            when length(metric_name) > $max_name_chars then $reason_metric_name_length
            when quantity_json not in ('UBIGINT', 'BIGINT', 'DOUBLE') or quantity_json is null
                then $reason_quantity_type
            when quantity is null or quantity < 0 or quantity > $max_quantity
                or quantity_double < 0
                then $reason_quantity_range
            when key_json is not null and key_json not in ('VARCHAR', 'NULL')
                then $reason_key_type
            when length(idempotency_key) > $max_key_chars
                or regexp_full_match(idempotency_key, $blank_pattern)
                then $reason_key_length
            when regexp_matches(idempotency_key, $key_forbidden) then $reason_key_control
            when timestamp_json is not null and timestamp_json not in ('VARCHAR', 'NULL')
                then $reason_timestamp_type
            when timestamp_text is not null
                and (event_at is null or not regexp_full_match(timestamp_text, $timestamp_pattern))
                then $reason_timestamp_format
            when event_at > coalesce(received_at, $now) + to_seconds($max_future)
                then $reason_timestamp_future
            when event_at < coalesce(received_at, $now) - to_seconds($max_age)
                then $reason_timestamp_past
            when user_json is not null and user_json not in ('VARCHAR', 'NULL')
                then $reason_user_type
            when length(user_id) > $max_text_chars then $reason_user_length
            when cost_json is not null and cost_json not in ('UBIGINT', 'BIGINT', 'DOUBLE', 'NULL')
                then $reason_cost_type
            when cost_text is not null
                and (
                    caller_cost_usd is null or caller_cost_usd < 0
                    or caller_cost_usd > $max_cost_usd or cost_double < 0
                )
                then $reason_cost_range
            when value_json is not null and value_json not in ('VARCHAR', 'NULL')
                then $reason_value_type
            when length(event_string) > $max_value_chars then $reason_value_length
            when metadata_json is not null and metadata_json not in ('OBJECT', 'NULL')
                then $reason_metadata_type
            when length(metadata::varchar) > $max_metadata_chars then $reason_metadata_length
            when model_json not in ('VARCHAR', 'NULL') or provider_json not in ('VARCHAR', 'NULL')
                or feature_json not in ('VARCHAR', 'NULL')
                then $reason_metadata_strings
            when greatest(length(model), length(provider), length(feature)) > $max_text_chars
                then $reason_metadata_string_length
            when list_bool_or(list_transform(
                    list_zip(split_json, split_tokens, split_doubles),
                    lambda x: x[1] is not null and x[1] <> 'NULL'
                    and (
                        x[1] not in ('UBIGINT', 'BIGINT', 'DOUBLE') or x[2] is null or x[2] < 0 or x[2] > $max_quantity
                        or x[3] <> floor(x[3])
                    )
                ))
                then $reason_metadata_tokens
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
    coalesce(event_at, received_at, $now) as event_at,
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
