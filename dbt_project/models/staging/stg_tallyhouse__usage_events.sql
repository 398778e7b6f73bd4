with source as (
    select * from {{ source('tallyhouse', 'usage_events') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by organization_id, idempotency_key
            order by ingest_run_id, source_file, source_line
        ) as key_rank
    from source
),

final as (
    select
        event_id,
        organization_id,
        idempotency_key,
        event_type,
        metric_name,
        cast(quantity as decimal(18, 6)) as quantity,
        cast(event_at as timestamp) as event_at,
        cast(received_at as timestamp) as received_at,
        end_user_id,
        cast(caller_cost_usd as decimal(18, 9)) as caller_cost_usd,
        event_string,
        model as model_ref,
        provider as provider_ref,
        feature,
        ingest_run_id,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        reasoning_tokens,
        metadata
    from ranked
    -- one event per (organization, idempotency key), forever: the first accepted wins
    where key_rank = 1
)

select * from final
