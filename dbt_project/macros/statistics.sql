{#- The statistics of fct_cost_anomalies over a group's few values (at most 8), as lists: one
    hash aggregate per group instead of ranking each group's rows by a window function (a
    1,000-event build at 10M events: 1.0 s instead of 1.7 s for the mart's query). Exact, as
    the values stay DECIMAL. -#}

{#- The group's values of `column`, in ascending order. -#}
{% macro sorted_list(column) -%}
    {{ return(adapter.dispatch('sorted_list', 'tallyhouse')(column)) }}
{%- endmacro %}

{% macro default__sorted_list(column) -%}
    list_sort(list({{ column }}))
{%- endmacro %}

{% macro spark__sorted_list(column) -%}
    sort_array(collect_list({{ column }}))
{%- endmacro %}

{#- A list's values, in ascending order. -#}
{% macro sorted_list_of(values) -%}
    {{ return(adapter.dispatch('sorted_list_of', 'tallyhouse')(values)) }}
{%- endmacro %}

{% macro default__sorted_list_of(values) -%}
    list_sort({{ values }})
{%- endmacro %}

{% macro spark__sorted_list_of(values) -%}
    sort_array({{ values }})
{%- endmacro %}

{#- The `position`th value of `values` (1 the first). -#}
{% macro list_at(values, position) -%}
    {{ return(adapter.dispatch('list_at', 'tallyhouse')(values, position)) }}
{%- endmacro %}

{% macro default__list_at(values, position) -%}
    list_extract({{ values }}, cast({{ position }} as integer))
{%- endmacro %}

{% macro spark__list_at(values, position) -%}
    element_at({{ values }}, cast({{ position }} as int))
{%- endmacro %}

{#- `values` with each `variable` made `expression`. -#}
{% macro list_map(values, variable, expression) -%}
    {{ return(adapter.dispatch('list_map', 'tallyhouse')(values, variable, expression)) }}
{%- endmacro %}

{% macro default__list_map(values, variable, expression) -%}
    list_transform({{ values }}, lambda {{ variable }}: {{ expression }})
{%- endmacro %}

{% macro spark__list_map(values, variable, expression) -%}
    transform({{ values }}, {{ variable }} -> {{ expression }})
{%- endmacro %}

{#- The sum of `values`, a DECIMAL of type `kind`. -#}
{% macro list_total(values, kind) -%}
    {{ return(adapter.dispatch('list_total', 'tallyhouse')(values, kind)) }}
{%- endmacro %}

{% macro default__list_total(values, kind) -%}
    cast(list_sum({{ values }}) as {{ kind }})
{%- endmacro %}

{% macro spark__list_total(values, kind) -%}
    aggregate({{ values }}, cast(0 as {{ kind }}), (total, value) -> cast(total + value as {{ kind }}))
{%- endmacro %}

{#- Twice the median of `count` sorted `values`: the middle value counted twice, or the two
    middle values. -#}
{% macro median_sum(values, count) -%}
    ({{ list_at(values, 'floor((' ~ count ~ ' + 1) / 2)') }} + {{ list_at(values, 'floor(' ~ count ~ ' / 2) + 1') }})
{%- endmacro %}
