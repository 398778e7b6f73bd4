-- Price each usage component with the catalogue's price in force at the event's instant:
-- of a model's price sets, the last whose constraint holds (a start date reached, a UTC
-- time-of-day window), else the first; then the highest long-context tier the request's
-- input exceeds.
-- A view, like the split: fct_usage_costs reads each event's components once, when it is new
-- (its filter on ingest_run_id reaches the raw events' scan); ask it for any event's prices.
{{ config(materialized='view') }}

with components as (
    select * from {{ ref('int_usage_components_split') }}
),

model_refs as (
    select * from {{ ref('int_model_refs_resolved') }}
),

prices as (
    select * from {{ ref('stg_genai_prices__model_prices') }}
),

-- each tier's range of request input: (its start, the next tier's start]; the first tier also
-- takes requests without a token count. So a component matches exactly one tier of its
-- price set: a plain join, no ranking of candidates per component.
tiered_prices as (
    select
        *,
        lead(tier_start_input_tokens) over (
            partition by provider_id, model_id, price_set_index, usage_type
            order by tier_start_input_tokens
        ) as tier_end_input_tokens
    from prices
),

price_sets as (
    select distinct
        provider_id,
        model_id,
        price_set_index,
        constraint_type,
        effective_from,
        window_start_second,
        window_end_second
    from prices
),

-- only a model with several price sets needs the event's instant to choose one; a model
-- with one uses it (set 0) whatever its constraint, as below
multi_set_models as (
    select
        provider_id,
        model_id
    from price_sets
    group by provider_id, model_id
    having count(*) > 1
),

resolved as {{ inlined() }} (
    select
        components.*,
        model_refs.provider_id,
        model_refs.price_provider_id,
        model_refs.model_id
    from components
    left join model_refs
        on components.model_ref = model_refs.model_ref
        and coalesce(components.provider_ref, '~null~') = coalesce(model_refs.provider_ref, '~null~')
),

event_instants as (
    select distinct
        {{ event_key('resolved.event_id') }} as event_key,
        resolved.ingest_run_id,
        resolved.event_at,
        resolved.price_provider_id,
        resolved.model_id
    from resolved
    inner join multi_set_models
        on resolved.price_provider_id = multi_set_models.provider_id
        and resolved.model_id = multi_set_models.model_id
),

active_sets as (
    select
        event_instants.event_key,
        event_instants.ingest_run_id,
        max(case
            when price_sets.constraint_type = 'none' then price_sets.price_set_index
            when price_sets.constraint_type = 'start_date'
                and cast(event_instants.event_at as date) >= price_sets.effective_from
                then price_sets.price_set_index
            when price_sets.constraint_type = 'time_of_day'
                and price_sets.window_end_second < price_sets.window_start_second
                and (
                    {{ second_of_day('event_instants.event_at') }} >= price_sets.window_start_second
                    or {{ second_of_day('event_instants.event_at') }} < price_sets.window_end_second
                )
                then price_sets.price_set_index
            when price_sets.constraint_type = 'time_of_day'
                and {{ second_of_day('event_instants.event_at') }} >= price_sets.window_start_second
                and {{ second_of_day('event_instants.event_at') }} < price_sets.window_end_second
                then price_sets.price_set_index
        end) as active_set_index
    from event_instants
    inner join price_sets
        on event_instants.price_provider_id = price_sets.provider_id
        and event_instants.model_id = price_sets.model_id
    group by event_instants.event_key, event_instants.ingest_run_id
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
        tiered_prices.price_id,
        tiered_prices.price_set_id,
        tiered_prices.usd_per_unit,
        cast(
            cast(resolved.quantity as decimal(18, 6)) * tiered_prices.usd_per_unit
            as decimal(38, 18)
        ) as cost_usd
    from resolved
    -- joined on the ingest run too: a filter on it then reaches both readers of `resolved`
    left join active_sets
        on {{ event_key('resolved.event_id') }} = active_sets.event_key
        and resolved.ingest_run_id = active_sets.ingest_run_id
    left join tiered_prices
        on resolved.price_provider_id = tiered_prices.provider_id
        and resolved.model_id = tiered_prices.model_id
        and coalesce(active_sets.active_set_index, 0) = tiered_prices.price_set_index
        and resolved.usage_type = tiered_prices.usage_type
        and (
            tiered_prices.tier_start_input_tokens = 0
            or resolved.tier_input_tokens > tiered_prices.tier_start_input_tokens
        )
        and (
            tiered_prices.tier_end_input_tokens is null
            or resolved.tier_input_tokens is null
            or resolved.tier_input_tokens <= tiered_prices.tier_end_input_tokens
        )
)

select * from final
