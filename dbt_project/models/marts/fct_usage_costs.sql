{{ config(
    materialized='incremental',
    incremental_strategy=event_fact_strategy(),
    on_schema_change='fail'
) }}

with events as (
    select * from {{ ref('stg_tallyhouse__usage_events') }}
    where {{ only_new_ingest_runs() }}
),

components as (
    select * from {{ ref('int_usage_components_priced') }}
    where {{ only_new_ingest_runs() }}
),

model_refs as (
    select * from {{ ref('int_model_refs_resolved') }}
),

event_costs as (
    select
        {{ event_key('event_id') }} as event_key,
        max(pricing_basis) as pricing_basis,
        max(price_set_id) as price_set_id,
        count(*) as components,
        count(price_id) as components_priced,
        sum(coalesce(cost_usd, 0)) as cost_usd,
        sum(case when usage_type = 'input' then quantity end) as input_tokens,
        sum(case when usage_type = 'output' then quantity end) as output_tokens,
        sum(case when usage_type = 'cache_read' then quantity end) as cache_read_tokens,
        sum(case when usage_type = 'cache_write' then quantity end) as cache_write_tokens,
        sum(case when usage_type = 'reasoning' then quantity end) as reasoning_tokens
    from components
    group by {{ event_key('event_id') }}
),

final as (
    select
        events.event_id,
        events.organization_id,
        events.idempotency_key,
        events.event_type,
        events.metric_name,
        events.quantity,
        events.end_user_id,
        coalesce(model_refs.model_id, events.model_ref) as model,
        events.model_ref,
        coalesce(model_refs.provider_id, lower(trim(events.provider_ref))) as provider,
        events.provider_ref,
        events.feature,
        events.event_at,
        cast(events.event_at as date) as event_date,
        events.received_at,
        cast(event_costs.input_tokens as decimal(18, 6)) as input_tokens,
        cast(event_costs.output_tokens as decimal(18, 6)) as output_tokens,
        cast(event_costs.cache_read_tokens as decimal(18, 6)) as cache_read_tokens,
        cast(event_costs.cache_write_tokens as decimal(18, 6)) as cache_write_tokens,
        cast(event_costs.reasoning_tokens as decimal(18, 6)) as reasoning_tokens,
        cast(coalesce(events.caller_cost_usd, coalesce(event_costs.cost_usd, 0)) as decimal(38, 18)) as cost_usd,
        event_costs.price_set_id,
        case
            when events.caller_cost_usd is not null then 'caller_cost'
            when event_costs.event_key is null then 'not_applicable'
            when event_costs.components_priced = event_costs.components then 'priced'
            when event_costs.components_priced = 0 then 'unpriced'
            else 'partially_priced'
        end as pricing_status,
        case
            when events.caller_cost_usd is not null then 'caller_cost'
            else coalesce(event_costs.pricing_basis, 'not_applicable')
        end as pricing_basis,
        events.event_string,
        events.metadata,
        events.ingest_run_id
    from events
    left join event_costs on {{ event_key('events.event_id') }} = event_costs.event_key
    left join model_refs
        on events.model_ref = model_refs.model_ref
        and coalesce(events.provider_ref, '~null~') = coalesce(model_refs.provider_ref, '~null~')
)

select * from final
