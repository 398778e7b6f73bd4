-- Price each usage component with the catalogue's price in force at the event's instant:
-- of a model's price sets, the last whose constraint holds (a start date reached, a UTC
-- time-of-day window), else the first (int_price_set_cells); then the tier the request's
-- input falls in (int_price_tiers).
-- A view, like the split: ask it for any event's parts and prices. fct_usage_costs prices
-- each event in one row with the same joins (macros/pricing.sql).
{{ config(materialized='view') }}

with components as (
    select * from {{ ref('int_usage_components_split') }}
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
        components.*,
        model_refs.provider_id,
        model_refs.price_provider_id,
        model_refs.model_id,
        coalesce(cells.price_set_index, 0) as price_set_index
    from components
    {{ join_model_and_price_set('components') }}
),

final as (
    select
        resolved.usage_component_id,
        resolved.event_id,
        resolved.usage_type,
        resolved.quantity,
        resolved.tier_input_tokens,
        resolved.pricing_basis,
        resolved.provider_id,
        resolved.model_id,
        resolved.ingest_run_id,
        tiers.price_id,
        tiers.price_set_id,
        tiers.usd_per_unit,
        {{ component_cost('resolved.quantity', 'tiers.usd_per_unit') }} as cost_usd
    from resolved
    left join tiers
        on {{ in_tier_of('resolved', 'tiers', 'resolved.usage_type') }}
)

select * from final
