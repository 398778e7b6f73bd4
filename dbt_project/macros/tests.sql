{#- Data tests of the event-level models look at the rows a build adds, not at history.

    Every row of these models carries the ingest run that landed its event. After a dbt build
    whose tests all passed, the orchestrator records in raw.tested_builds that the events of
    every run so far were tested; a later build's tests of these models read only rows of
    newer runs. A full refresh rebuilds everything and tests everything; so does Spark (the
    record lives in the embedded warehouse). The source's unique test on event_id still reads
    every raw row: it is what proves a new event is not an old one again. dbt's own `where`
    config applies as before. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set event_level = [
        'stg_tallyhouse__usage_events', 'int_usage_components_split',
        'int_usage_components_priced', 'fct_usage_costs', 'fct_metric_events'
    ] -%}
    {%- set conditions = [] -%}
    {%- if config.get('where', '') -%}
        {%- do conditions.append('(' ~ config.get('where') ~ ')') -%}
    {%- endif -%}
    {%- if target.type == 'duckdb' and not flags.FULL_REFRESH
        and relation.identifier in event_level -%}
        {%- do conditions.append(
            'ingest_run_id > (select coalesce(max(tested_through_ingest_run), -1) from '
            ~ relation.database ~ '.raw.tested_builds)'
        ) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
