{#- Engine-specific SQL, one dispatch per construct; everything else uses dbt's cross-database macros. -#}

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

{#- Does a catalogue match clause (equals, starts_with, ends_with, contains, regex, not_regex) hold? -#}
{% macro clause_matches(clause_type, clause_value, text) -%}
    case {{ clause_type }}
        when 'equals' then {{ text }} = {{ clause_value }}
        when 'starts_with' then substring({{ text }}, 1, length({{ clause_value }})) = {{ clause_value }}
        when 'ends_with' then length({{ text }}) >= length({{ clause_value }})
            and substring({{ text }}, length({{ text }}) - length({{ clause_value }}) + 1) = {{ clause_value }}
        when 'contains' then {{ dbt.position(clause_value, text) }} > 0
        when 'regex' then {{ regex_search(text, clause_value) }}
        when 'not_regex' then not {{ regex_search(text, clause_value) }}
        else false
    end
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
