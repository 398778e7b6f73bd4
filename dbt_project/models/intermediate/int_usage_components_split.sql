-- Split every token-metered event into usage components (input, output, cache read, cache
-- write, reasoning), recording the pricing basis. Cached tokens are counted once: an
-- event's input tokens exclude cache reads and writes, which are components of their own.
-- A view, as the priced components are: fct_usage_costs reads them once per event, when it
-- is new (its filter on ingest_run_id reaches the raw events' scan through both views), so
-- writing them down would only cost passes over the events and the disk.
{{ config(materialized='view') }}

{#- what every component carries from its event (each branch below selects it as is) -#}
{%- set carried_columns = 'pricing_basis, event_at, provider_ref, model_ref, ingest_run_id' %}

with events as {{ inlined() }} (
    select * from {{ ref('stg_tallyhouse__usage_events') }}
),

token_events as {{ inlined() }} (
    select
        *,
        case
            when metric_name in (
                    'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens',
                    'reasoning_tokens'
                ) then 'split_event'
            when input_tokens is not null or output_tokens is not null
                or cache_read_tokens is not null or cache_write_tokens is not null
                or reasoning_tokens is not null then 'request_split'
            else 'unsplit_tokens_as_input'
        end as pricing_basis
    from events
    where caller_cost_usd is null
        and (
            metric_name = 'tokens'
            or metric_name in (
                'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens',
                'reasoning_tokens'
            )
        )
),

split_events as (
    select
        event_id,
        replace(metric_name, '_tokens', '') as usage_type,
        quantity,
        cast(null as bigint) as tier_input_tokens,
        {{ carried_columns }}
    from token_events
    where pricing_basis = 'split_event'
),

request_split as {{ inlined() }} (
    select
        event_id,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        reasoning_tokens,
        -- long-context tiers look at the request's whole input, cached tokens included
        coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0)
        + coalesce(cache_write_tokens, 0) as tier_input_tokens,
        {{ carried_columns }}
    from token_events
    where pricing_basis = 'request_split'
),

request_components as (
    {% for usage_type in ['input', 'output', 'cache_read', 'cache_write', 'reasoning'] %}
        select
            event_id,
            '{{ usage_type }}' as usage_type,
            cast({{ usage_type }}_tokens as decimal(18, 6)) as quantity,
            tier_input_tokens,
            {{ carried_columns }}
        from request_split
        where {{ usage_type }}_tokens is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

unsplit as (
    select
        event_id,
        'input' as usage_type,
        quantity,
        cast(quantity as bigint) as tier_input_tokens,
        {{ carried_columns }}
    from token_events
    where pricing_basis = 'unsplit_tokens_as_input'
),

components as (
    select * from split_events
    union all
    select * from request_components
    union all
    select * from unsplit
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
