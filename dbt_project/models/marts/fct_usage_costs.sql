{{ config(
    materialized='incremental',
    incremental_strategy=event_fact_strategy(),
    on_schema_change='fail'
) }}

{#- One row per event, priced in that row: its usage components (macros/usage_components.sql, macros/pricing.sql) each meet
    their price through joins with small tables (the model's name, its price-set cell, each
    component's tier), so the events stream through and nothing the size of the events is
    grouped, joined or held; a slice of any size fits the memory limit. The per-component
    views (int_usage_components_priced) give the same prices part by part. -#}

with events as (
    select
        *,
        {{ pricing_basis_of('usage_events') }} as components_basis
    from {{ ref('stg_tallyhouse__usage_events') }} as usage_events
    where {{ only_new_ingest_runs() }}
),

model_refs as (
    select * from {{ ref('int_model_refs_resolved') }}
),

cells as (
    select * from {{ ref('int_price_set_cells') }}
),

tiers as (
    select * from {{ ref('int_price_tiers') }}
),

resolved as (
    select
        events.*,
        model_refs.provider_id,
        model_refs.price_provider_id,
        model_refs.model_id,
        coalesce(cells.price_set_index, 0) as price_set_index,
        {{ tier_input_tokens_of('events', 'events.components_basis') }} as tier_input_tokens
    from events
    {{ join_model_and_price_set('events') }}
),

priced as (
    select
        resolved.*,
        {{ usage_type_prices('resolved', 'resolved.components_basis') }}
    from resolved
    {{ join_usage_type_tiers('resolved', 'tiers') }}
),

-- the component costs are summed as DECIMAL(32,18), so that the sum keeps 18 decimals on
-- every engine (a sum of DECIMAL(38,18) values loses one on Spark)
event_costs as (
    select
        priced.*,
        {{ for_usage_types(
            "case when {u}_quantity is not null then 1 else 0 end", " + "
        ) }} as components,
        {{ for_usage_types(
            "case when {u}_quantity is not null and {u}_price_id is not null then 1 else 0 end",
            " + "
        ) }} as components_priced,
        {{ for_usage_types(
            "cast(coalesce(" ~ component_cost("{u}_quantity", "{u}_usd_per_unit") ~ ", 0) as decimal(32, 18))",
            " + "
        ) }} as components_cost_usd,
        coalesce(
            {{ for_usage_types("case when {u}_quantity is not null then {u}_price_set_id end", ", ") }}
        ) as components_price_set_id
    from priced
),

final as (
    select
        event_id,
        organization_id,
        idempotency_key,
        event_type,
        metric_name,
        quantity,
        end_user_id,
        coalesce(model_id, model_ref) as model,
        model_ref,
        coalesce(provider_id, lower(trim(provider_ref))) as provider,
        provider_ref,
        feature,
        event_at,
        cast(event_at as date) as event_date,
        received_at,
        cast(input_quantity as decimal(18, 6)) as input_tokens,
        cast(output_quantity as decimal(18, 6)) as output_tokens,
        cast(cache_read_quantity as decimal(18, 6)) as cache_read_tokens,
        cast(cache_write_quantity as decimal(18, 6)) as cache_write_tokens,
        cast(reasoning_quantity as decimal(18, 6)) as reasoning_tokens,
        cast(coalesce(caller_cost_usd, components_cost_usd) as decimal(38, 18)) as cost_usd,
        components_price_set_id as price_set_id,
        case
            when caller_cost_usd is not null then 'caller_cost'
            when components = 0 then 'not_applicable'
            when components_priced = components then 'priced'
            when components_priced = 0 then 'unpriced'
            else 'partially_priced'
        end as pricing_status,
        case
            when caller_cost_usd is not null then 'caller_cost'
            else coalesce(components_basis, 'not_applicable')
        end as pricing_basis,
        event_string,
        metadata,
        ingest_run_id
    from event_costs
)

select * from final
