{#-
    How a token-metered event splits into usage components. One definition, read by the
    per-component view (int_usage_components_split, for analysts) and by fct_usage_costs,
    which splits and prices each event in one row. How a component meets its price:
    macros/pricing.sql.
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

{#- `template` once per usage type, `{u}` standing for it, joined by `separator`. -#}
{% macro for_usage_types(template, separator) -%}
    {%- set parts = [] -%}
    {%- for usage_type in usage_types() -%}
        {%- do parts.append(template | replace('{u}', usage_type)) -%}
    {%- endfor -%}
    {{ parts | join(separator) }}
{%- endmacro %}
