{#- SQL that differs by engine, one construct per macro (a dispatch, or dbt's cross-database
    macros); models use these instead of an engine's own syntax. -#}

{% macro regex_search(text, pattern) -%}
    {{ return(adapter.dispatch('regex_search', 'tallyhouse')(text, pattern)) }}
{%- endmacro %}

{% macro default__regex_search(text, pattern) -%}
    regexp_matches({{ text }}, {{ pattern }})
{%- endmacro %}

{% macro spark__regex_search(text, pattern) -%}
    ({{ text }} rlike {{ pattern }})
{%- endmacro %}

{#- A stable text key for a row from several columns; nulls are kept apart from any value. -#}
{% macro row_key(columns) -%}
    {{ dbt.hash(dbt.concat(surrogate_parts(columns))) }}
{%- endmacro %}

{% macro surrogate_parts(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '~null~')") -%}
        {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
    {%- endfor -%}
    {{ return(parts) }}
{%- endmacro %}

{#- Seconds since midnight UTC of a timestamp. -#}
{% macro second_of_day(ts) -%}
    (extract(hour from {{ ts }}) * 3600 + extract(minute from {{ ts }}) * 60
        + floor(extract(second from {{ ts }})))
{%- endmacro %}

{#- After `name as` in a WITH clause: a CTE that several parts of the query read is expanded
    into each of them rather than computed once and stored. DuckDB stores such CTEs by default,
    and a filter from outside the view (an incremental model's ingest_run_id) then stops at
    the stored result instead of reaching the raw events' scan. Other engines: nothing. -#}
{% macro inlined() -%}
    {{ return(adapter.dispatch('inlined', 'tallyhouse')()) }}
{%- endmacro %}

{% macro default__inlined() -%}
{%- endmacro %}

{% macro duckdb__inlined() -%}
    not materialized
{%- endmacro %}
