{#-
    How a token-metered event splits into usage components, and how a component meets its
    price. One definition, read by the per-component views (int_usage_components_split and
    _priced, for analysts) and by fct_usage_costs, which prices each event in one row.
-#}

{% macro usage_types() -%}
    {{ return(['input', 'output', 'cache_read', 'cache_write', 'reasoning']) }}
{%- endmacro %}

{#- An event's pricing basis; null when it has no usage components (a caller-given cost, or a
    metric that is not tokens). -#}
{% macro pricing_basis_of(e) -%}
    case
        when {{ e }}.caller_cost_usd is not null then null
        when {{ e }}.metric_name in (
            {%- for usage_type in usage_types() %}'{{ usage_type }}_tokens'{{ ', ' if not loop.last }}{% endfor -%}
        ) then 'split_event'
        when {{ e }}.metric_name <> 'tokens' then null
        when {%- for usage_type in usage_types() %} {{ e }}.{{ usage_type }}_tokens is not null{{ ' or' if not loop.last }}{% endfor %}
            then 'request_split'
        else 'unsplit_tokens_as_input'
    end
{%- endmacro %}

{#- The quantity of an event's `usage_type` component, null when it has none: a split event's
    own type, the request's split (input excludes cache reads and writes, so no token is
    counted twice), or an unsplit tokens count as input. `basis`: pricing_basis_of(e). -#}
{% macro component_quantity(e, basis, usage_type) -%}
    case {{ basis }}
        when 'split_event' then
            case when {{ e }}.metric_name = '{{ usage_type }}_tokens' then {{ e }}.quantity end
        when 'request_split' then cast({{ e }}.{{ usage_type }}_tokens as decimal(18, 6))
        {%- if usage_type == 'input' %}
        when 'unsplit_tokens_as_input' then {{ e }}.quantity
        {%- endif %}
    end
{%- endmacro %}

{#- The request's whole input, which long-context tiers look at (cached tokens included);
    null for split events. -#}
{% macro tier_input_tokens_of(e, basis) -%}
    case {{ basis }}
        when 'request_split' then coalesce({{ e }}.input_tokens, 0)
            + coalesce({{ e }}.cache_read_tokens, 0) + coalesce({{ e }}.cache_write_tokens, 0)
        when 'unsplit_tokens_as_input' then cast({{ e }}.quantity as bigint)
    end
{%- endmacro %}

{#- Join conditions: the price-set cell (int_price_set_cells) an event's instant falls in. -#}
{% macro in_price_set_cell(cell, event_at) -%}
    ({{ cell }}.date_from is null or cast({{ event_at }} as date) >= {{ cell }}.date_from)
    and ({{ cell }}.date_to is null or cast({{ event_at }} as date) < {{ cell }}.date_to)
    and {{ second_of_day(event_at) }} >= {{ cell }}.second_from
    and {{ second_of_day(event_at) }} < {{ cell }}.second_to
{%- endmacro %}

{#- Join conditions: the tier (int_price_tiers) that a request's input falls in; the first
    tier also takes requests without a token count. -#}
{% macro in_price_tier(tier, tier_input_tokens) -%}
    ({{ tier }}.tier_start_input_tokens = 0 or {{ tier_input_tokens }} > {{ tier }}.tier_start_input_tokens)
    and (
        {{ tier }}.tier_end_input_tokens is null
        or {{ tier_input_tokens }} is null
        or {{ tier_input_tokens }} <= {{ tier }}.tier_end_input_tokens
    )
{%- endmacro %}

{#- A component's cost: quantity × the unit price, DECIMAL(38,18). -#}
{% macro component_cost(quantity, usd_per_unit) -%}
    cast(cast({{ quantity }} as decimal(18, 6)) * {{ usd_per_unit }} as decimal(38, 18))
{%- endmacro %}

{#- `template` once per usage type, `{u}` standing for it, joined by `separator`. -#}
{% macro for_usage_types(template, separator) -%}
    {%- set parts = [] -%}
    {%- for usage_type in usage_types() -%}
        {%- do parts.append(template | replace('{u}', usage_type)) -%}
    {%- endfor -%}
    {{ parts | join(separator) }}
{%- endmacro %}

{#- Columns: each usage type's quantity in event row `e` (null when it has none) and the price
    its tier join (`{u}_tier`, join_usage_type_tiers) found. -#}
{% macro usage_type_prices(e, basis) -%}
    {%- for usage_type in usage_types() %}
    {{ component_quantity(e, basis, usage_type) }} as {{ usage_type }}_quantity,
    {{ usage_type }}_tier.price_id as {{ usage_type }}_price_id,
    {{ usage_type }}_tier.price_set_id as {{ usage_type }}_price_set_id,
    {{ usage_type }}_tier.usd_per_unit as {{ usage_type }}_usd_per_unit{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- One left join per usage type with its tier (`{u}_tier`) in `tiers`, for event row `e` with
    its price provider, model, price set and tier_input_tokens. -#}
{% macro join_usage_type_tiers(e, tiers) -%}
    {%- for usage_type in usage_types() %}
    left join {{ tiers }} as {{ usage_type }}_tier
        on {{ e }}.price_provider_id = {{ usage_type }}_tier.provider_id
        and {{ e }}.model_id = {{ usage_type }}_tier.model_id
        and {{ e }}.price_set_index = {{ usage_type }}_tier.price_set_index
        and {{ usage_type }}_tier.usage_type = '{{ usage_type }}'
        and {{ in_price_tier(usage_type ~ '_tier', e ~ '.tier_input_tokens') }}
    {%- endfor %}
{%- endmacro %}
