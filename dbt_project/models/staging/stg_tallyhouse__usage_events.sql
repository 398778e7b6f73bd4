-- One row per accepted event, typed. No deduplication here: the ingest admits a key only
-- once per organization, ever (an anti-join against raw.usage_events in the same
-- transaction), and the source's unique test on event_id (derived from the pair) fails a
-- build that finds one twice. So a filter on ingest_run_id reaches the raw scan and an
-- incremental model reads only the new events.
with source as (
    select * from {{ source('tallyhouse', 'usage_events') }}
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
    from source
)

select * from final
