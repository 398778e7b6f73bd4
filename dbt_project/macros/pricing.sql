{#-
    How an event or a usage component meets its price: the model and price-set joins and the
    tier join, written once for the per-component view (int_usage_components_priced) and
    for fct_usage_costs, which prices each event in one row.
-#}

{#- The joins that resolve row `e`'s model (the CTE `model_refs`, int_model_refs_resolved)
    and the price-set cell its instant falls in (the CTE `cells`, int_price_set_cells). -#}
{% macro join_model_and_price_set(e) -%}
    left join model_refs
        on {{ e }}.model_ref = model_refs.model_ref
        and coalesce({{ e }}.provider_ref, '~null~') = coalesce(model_refs.provider_ref, '~null~')
    left join cells
        on model_refs.price_provider_id = cells.provider_id
        and model_refs.model_id = cells.model_id
        and {{ in_price_set_cell('cells', e ~ '.event_at') }}
{%- endmacro %}

{#- Join conditions: the tier (int_price_tiers) of `usage_type` that row `e` (with its
    price_provider_id, model_id, price_set_index and tier_input_tokens) falls in. -#}
{% macro in_tier_of(e, tier, usage_type) -%}
    {{ e }}.price_provider_id = {{ tier }}.provider_id
    and {{ e }}.model_id = {{ tier }}.model_id
    and {{ e }}.price_set_index = {{ tier }}.price_set_index
    and {{ tier }}.usage_type = {{ usage_type }}
    and {{ in_price_tier(tier, e ~ '.tier_input_tokens') }}
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
        on {{ in_tier_of(e, usage_type ~ '_tier', "'" ~ usage_type ~ "'") }}
    {%- endfor %}
{%- endmacro %}
