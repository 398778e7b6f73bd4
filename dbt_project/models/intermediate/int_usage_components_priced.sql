-- Price each usage component with the catalogue's price in force at the event's instant:
-- of a model's price sets, the last whose constraint holds (a start date reached, a UTC
-- time-of-day window), else the first (int_price_set_cells); then the tier the request's
-- input falls in (int_price_tiers).
-- A view, like the split: ask it for any event's parts and prices. fct_usage_costs prices
-- each event in one row with the same joins.
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

final as (
    select
        components.usage_component_id,
        components.event_id,
        components.usage_type,
        components.quantity,
        components.tier_input_tokens,
        components.pricing_basis,
        model_refs.provider_id,
        model_refs.model_id,
        components.ingest_run_id,
        tiers.price_id,
        tiers.price_set_id,
        tiers.usd_per_unit,
        {{ component_cost('components.quantity', 'tiers.usd_per_unit') }} as cost_usd
    from components
    left join model_refs
        on components.model_ref = model_refs.model_ref
        and coalesce(components.provider_ref, '~null~') = coalesce(model_refs.provider_ref, '~null~')
    left join cells
        on model_refs.price_provider_id = cells.provider_id
        and model_refs.model_id = cells.model_id
        and {{ in_price_set_cell('cells', 'components.event_at') }}
    left join tiers
        on model_refs.price_provider_id = tiers.provider_id
        and model_refs.model_id = tiers.model_id
        and coalesce(cells.price_set_index, 0) = tiers.price_set_index
        and components.usage_type = tiers.usage_type
        and {{ in_price_tier('tiers', 'components.tier_input_tokens') }}
)

select * from final
