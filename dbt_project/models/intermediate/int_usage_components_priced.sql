-- Price each usage component with the catalogue's price in force at the event's instant:
-- of a model's price sets, the last whose constraint holds (a start date reached, a UTC
-- time-of-day window), else the first; then the highest long-context tier the request's
-- input exceeds.
{{ config(
    materialized='incremental',
    incremental_strategy=event_fact_strategy(),
    on_schema_change='fail'
) }}

with components as (
    select * from {{ ref('int_usage_components_split') }}
    where {{ only_new_ingest_runs() }}
),

model_refs as (
    select * from {{ ref('int_model_refs_resolved') }}
),

prices as (
    select * from {{ ref('stg_genai_prices__model_prices') }}
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

resolved as (
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
        event_id,
        event_at,
        price_provider_id,
        model_id
    from resolved
    where model_id is not null
),

active_sets as (
    select
        event_instants.event_id,
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
    group by event_instants.event_id
),

candidate_prices as (
    select
        resolved.usage_component_id,
        prices.price_id,
        prices.price_set_id,
        prices.usd_per_unit,
        row_number() over (
            partition by resolved.usage_component_id
            order by prices.tier_start_input_tokens desc
        ) as tier_rank
    from resolved
    inner join active_sets on resolved.event_id = active_sets.event_id
    inner join prices
        on resolved.price_provider_id = prices.provider_id
        and resolved.model_id = prices.model_id
        and coalesce(active_sets.active_set_index, 0) = prices.price_set_index
        and resolved.usage_type = prices.usage_type
        and (
            prices.tier_start_input_tokens = 0
            or resolved.tier_input_tokens > prices.tier_start_input_tokens
        )
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
        candidate_prices.price_id,
        candidate_prices.price_set_id,
        candidate_prices.usd_per_unit,
        cast(
            cast(resolved.quantity as decimal(18, 6)) * candidate_prices.usd_per_unit
            as decimal(38, 18)
        ) as cost_usd
    from resolved
    left join candidate_prices
        on resolved.usage_component_id = candidate_prices.usage_component_id
        and candidate_prices.tier_rank = 1
)

select * from final
