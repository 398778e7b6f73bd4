{#- Data tests of the event-level models and of the folding rollups look at the rows a build
    adds or writes again, not at history.

    Every row of the event-level models carries the ingest run that landed its event; every
    row of a rollup folded from them (an incremental model with a `last_ingest_run_id`: the
    newest run among its facts) the newest run it was written from. After a dbt build whose
    tests all passed, the orchestrator records in raw.tested_builds that every run so far was
    tested; a later build's tests of these models read only rows of newer runs: the new events,
    and the rollup rows they touched (written again, keyed as before: delete+insert replaces
    a key's row, it does not add one beside it). A full refresh rebuilds everything and tests
    everything; so does Spark (the record lives in the embedded warehouse). The raw events'
    uniqueness test below still looks at every row, as it must to prove a new event is not an
    old one again. dbt's own `where` config applies as before. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set event_level = ['stg_tallyhouse__usage_events'] + event_facts() -%}
    {%- set conditions = [] -%}
    {%- if config.get('where', '') -%}
        {%- do conditions.append('(' ~ config.get('where') ~ ')') -%}
    {%- endif -%}
    {%- set run_column = none -%}
    {%- if relation.identifier in event_level -%}
        {%- set run_column = 'ingest_run_id' -%}
    {%- elif relation.identifier in folding_rollups() -%}
        {%- set run_column = 'last_ingest_run_id' -%}
    {%- endif -%}
    {%- if target.type == 'duckdb' and not flags.FULL_REFRESH and run_column -%}
        {%- do conditions.append(
            run_column ~ ' > ' ~ newest_ingest_run(
                relation.database ~ '.raw.tested_builds', 'tested_through_ingest_run'
            )
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

{#- The incremental models whose rows carry the newest ingest run they were written from. -#}
{% macro folding_rollups() -%}
    {%- set names = [] -%}
    {%- for node in graph.get('nodes', {}).values() -%}
        {%- if node.resource_type == 'model' and node.config.materialized == 'incremental'
            and 'last_ingest_run_id' in node.columns -%}
            {%- do names.append(node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#- One event per event_id across every ingest run, read at the cost of the new rows: the
    rows of runs newer than the last tested build must be unique among themselves (hashes
    first, as below) and must not repeat an id of a tested row (the old rows are only probed,
    not grouped: a semi join, whose hash table holds the new ids; as an inner join DuckDB 2.0
    built it from the 10M old ones, 3x slower). A full refresh, a warehouse with nothing
    tested yet and Spark group every row, as dbt's own `unique` does (when every row is new,
    probing them against themselves would hold them all in memory twice). -#}
{% test unique_across_ingest_runs(model, column_name) %}
    {%- set tested_through = -1 -%}
    {%- if target.type == 'duckdb' and not flags.FULL_REFRESH -%}
        {%- set tested_through = newest_ingest_run(
            model.database ~ '.raw.tested_builds', 'tested_through_ingest_run'
        ) | int(-1) -%}
    {%- endif -%}
    {%- if tested_through >= 0 %}
        {%- set new_rows -%}
            (select {{ column_name }} from {{ model }} where ingest_run_id > {{ tested_through }}) as new_rows
        {%- endset %}
        select unique_field from ({{ duplicated_values(new_rows, column_name) }}) as repeated
        union all
        select tested.{{ column_name }} from {{ model }} as tested
        where tested.ingest_run_id <= {{ tested_through }}
            and tested.{{ column_name }} in (select {{ column_name }} from {{ new_rows }})
    {%- else %}
        {{ duplicated_values(model, column_name) }}
    {%- endif %}
{% endtest %}

{#- The values of `column_name` that occur more than once (dbt's `unique`, which the tests here
    use instead). On DuckDB, their 64-bit hashes are grouped first and then only the values
    whose hash repeats: grouping 100M distinct strings outright runs out of a 1 GB memory
    limit (DuckDB 2.0), their hashes do not; the answer is the same (a hash collision only
    sends two distinct values to the exact check). -#}
{% macro duplicated_values(model, column_name) -%}
    select {{ column_name }} as unique_field, count(*) as n_records
    from {{ model }}
    where {{ column_name }} is not null
    {%- if target.type == 'duckdb' %}
        and hash({{ column_name }}) in (
            select value_hash from (
                select hash({{ column_name }}) as value_hash from {{ model }}
                where {{ column_name }} is not null
                group by value_hash
                having count(*) > 1
            ) as repeated_hashes
        )
    {%- endif %}
    group by {{ column_name }}
    having count(*) > 1
{%- endmacro %}

{#- A model's (or a source table's) rules for its rows, in one test: the columns never null,
    the key that is unique, the columns whose values are from a list. One query and one node
    per model instead of one per rule and column (every node costs a build its own
    bookkeeping, ~0.1 s, more than the query over an increment); over the new rows only, like
    every test of the event-level models (above). Each failing row says which rule it breaks
    and the value (or, for a null, the column) that breaks it. -#}
{% test row_rules(model, not_null, unique=none, accepted_values={}) %}
    select
        'not null' as broken_rule,
        case
            {%- for column in not_null %}
            when {{ column }} is null then '{{ column }}'
            {%- endfor %}
        end as failing_value
    from {{ model }}
    where {% for column in not_null -%}
        {{ column }} is null{% if not loop.last %} or {% endif %}
    {%- endfor %}
    {%- if unique %}
    union all
    select 'unique {{ unique }}', cast(unique_field as {{ dbt.type_string() }})
    from ({{ duplicated_values(model, unique) }}) as repeated
    {%- endif %}
    {%- for column, values in accepted_values.items() %}
    union all
    select distinct 'accepted values of {{ column }}', cast({{ column }} as {{ dbt.type_string() }})
    from {{ model }}
    where {{ column }} not in ({% for value in values %}'{{ value }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endfor %}
{% endtest %}
