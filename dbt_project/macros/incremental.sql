{#-
    Event-level models are incremental: events are immutable and each ingest run adds new
    ones only (one event per organization and idempotency key, forever), so a build prices
    and appends just the events of ingest runs it has not seen. Aggregates are rebuilt from
    the facts. A price seed change does not rewrite history: `tallyhouse build
    --full-refresh` reprices everything (docs/marts.md).
-#}

{#- The strategy for appending immutable events, per engine: plain inserts everywhere (no
    merge, which plain Parquet tables on Spark do not have). -#}
{% macro event_fact_strategy() -%}
    {{ return(adapter.dispatch('event_fact_strategy', 'tallyhouse')()) }}
{%- endmacro %}

{% macro default__event_fact_strategy() -%}
    {{ return('append') }}
{%- endmacro %}

{% macro spark__event_fact_strategy() -%}
    {{ return('append') }}
{%- endmacro %}

{#- On an incremental run, only rows of ingest runs newer than any already in this model. -#}
{% macro only_new_ingest_runs(column='ingest_run_id') -%}
    {%- if is_incremental() -%}
        {{ column }} > (select coalesce(max(built.ingest_run_id), -1) from {{ this }} as built)
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}
