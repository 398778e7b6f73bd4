-- Split every token-metered event into usage components (input, output, cache read, cache
-- write, reasoning), recording the pricing basis, by the rules of macros/usage_components.sql. Cached
-- tokens are counted once: an event's input tokens exclude cache reads and writes, which are
-- components of their own.
-- A view, as the priced components are: for analysts who want an event's parts and their
-- prices. fct_usage_costs prices each event in one row by the same rules.
{{ config(materialized='view') }}

with events as {{ inlined() }} (
    select * from {{ ref('stg_tallyhouse__usage_events') }}
),

token_events as {{ inlined() }} (
    select
        *,
        {{ pricing_basis_of('events') }} as pricing_basis
    from events
),

components as (
    {%- for usage_type in usage_types() %}
        select
            token_events.event_id,
            '{{ usage_type }}' as usage_type,
            {{ component_quantity('token_events', 'token_events.pricing_basis', usage_type) }} as quantity,
            {{ tier_input_tokens_of('token_events', 'token_events.pricing_basis') }} as tier_input_tokens,
            token_events.pricing_basis,
            token_events.event_at,
            token_events.provider_ref,
            token_events.model_ref,
            token_events.ingest_run_id
        from token_events
        where {{ component_quantity('token_events', 'token_events.pricing_basis', usage_type) }} is not null
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select
        {{ row_key(['event_id', 'usage_type']) }} as usage_component_id,
        event_id,
        usage_type,
        quantity,
        tier_input_tokens,
        pricing_basis,
        event_at,
        provider_ref,
        model_ref,
        ingest_run_id
    from components
)

select * from final
