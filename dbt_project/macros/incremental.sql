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

{#- The newest ingest run in `relation`'s `column` (-1 when empty), as a literal read when the
    model runs: a constant, unlike a subquery, reaches a table's scan through views and unions
    (zone maps skip the old row groups). While dbt parses, the equivalent subquery. -#}
{% macro newest_ingest_run(relation, column='ingest_run_id') -%}
    {%- set newest = 'select coalesce(max(' ~ column ~ '), -1) from ' ~ relation -%}
    {%- if execute -%}
        {{ return(run_query(newest).columns[0].values()[0] | int) }}
    {%- endif -%}
    {{ return('(' ~ newest ~ ')') }}
{%- endmacro %}

{#- On an incremental run, only rows of ingest runs newer than any already in this model; and
    while the orchestrator catches up on a backlog in slices (docs/operations.md#catch-up),
    none past the slice's last run, TALLYHOUSE_DBT_THROUGH_INGEST_RUN. Read when the model
    runs, never while dbt parses: a new bound does not make dbt parse the project again. -#}
{% macro only_new_ingest_runs(column='ingest_run_id') -%}
    {%- set conditions = [] -%}
    {%- if is_incremental() -%}
        {%- do conditions.append(column ~ ' > ' ~ newest_ingest_run(this)) -%}
    {%- endif -%}
    {%- set through = env_var('TALLYHOUSE_DBT_THROUGH_INGEST_RUN', '') if execute else '' -%}
    {%- if through -%}
        {%- do conditions.append(column ~ ' <= ' ~ (through | int)) -%}
    {%- endif -%}
    {{ conditions | join(' and ') if conditions else '1 = 1' }}
{%- endmacro %}

{#- The incremental models that hold one row per event (appended per ingest run): those
    tagged event_fact (models/marts/_marts__models.yml); the orchestrator reads the same tag
    from the manifest. -#}
{% macro event_facts() -%}
    {%- set names = [] -%}
    {#- the graph is empty while dbt parses: nothing is built then -#}
    {%- for node in graph.get('nodes', {}).values() -%}
        {%- if node.resource_type == 'model' and 'event_fact' in node.tags -%}
            {%- do names.append(node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names | sort) }}
{%- endmacro %}

{#- dbt's own `should_full_refresh`, and one exception: after the catch-up passes of a full
    refresh rebuilt the event facts (TALLYHOUSE_DBT_FACTS_CAUGHT_UP=1), the final pass appends
    to them what is left while it rebuilds everything else. Read when a model runs. -#}
{% macro should_full_refresh() -%}
    {%- set full_refresh = config.get('full_refresh') -%}
    {%- if full_refresh is none -%}
        {%- set full_refresh = flags.FULL_REFRESH -%}
    {%- endif -%}
    {%- if execute and env_var('TALLYHOUSE_DBT_FACTS_CAUGHT_UP', '') == '1'
        and model.name in event_facts() -%}
        {%- set full_refresh = false -%}
    {%- endif -%}
    {{ return(full_refresh) }}
{%- endmacro %}

{#- Rollups of the event facts are incremental on DuckDB. Each row keeps the newest ingest
    run among its events (`last_ingest_run_id`), the watermark of what it has seen. A rollup
    of sums, counts, minima and maxima folds new events in (`folded_into_this`); one built
    from another rollup recomputes the days that rollup's newer rows fall in
    (`only_touched`). On Spark they are rebuilt whole (Spark's equivalent is `insert_overwrite`
    of day partitions, which moves the partition column to the end of the table:
    docs/scale-out.md). -#}
{% macro rollup_materialization() -%}
    {{ return(adapter.dispatch('rollup_materialization', 'tallyhouse')()) }}
{%- endmacro %}

{% macro default__rollup_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__rollup_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{#- On an incremental run, only rows whose `key` (a day or hour expression) is one that rows of
    `source` from ingest runs newer than this rollup's watermark have (`run_column`: the
    source's ingest run, or its own watermark when the source is a rollup). -#}
{% macro only_touched(key, source, run_column='ingest_run_id') -%}
    {%- if is_incremental() -%}
        {{ key }} in (
            select distinct {{ key }} from {{ source }}
            where {{ run_column }} > {{ newest_ingest_run(this, 'last_ingest_run_id') }}
        )
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- On an incremental run of a folding rollup, only the facts of ingest runs newer than the
    rollup's watermark. -#}
{% macro only_unfolded_ingest_runs(column='ingest_run_id') -%}
    {%- if is_incremental() -%}
        {{ column }} > {{ newest_ingest_run(this, 'last_ingest_run_id') }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- A rollup whose every measure is a sum, count, minimum or maximum, brought up to date with
    the work of the new facts only: `fresh` aggregates them (the rollup's columns, in its
    order); on an incremental run the stored rows with the same `key` join them and each
    grain is aggregated again (`measures`: the measure columns, each with how it folds and its
    type), and `delete+insert` keyed by `key` replaces those rows. Rows that no new fact
    touches are neither read nor written. -#}
{% macro folded_into_this(fresh, key, grain, measures) -%}
    {%- if is_incremental() -%}
        {%- set names = [] -%}
        {%- for column in grain %}{% do names.append(column) %}{% endfor -%}
        {%- for name, fold, type in measures %}{% do names.append(name) %}{% endfor -%}
    select
        {%- for column in grain %}
        {{ column }},
        {%- endfor %}
        {%- for name, fold, type in measures %}
        cast({{ fold }}({{ name }}) as {{ type }}) as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        select {{ names | join(', ') }} from {{ fresh }}
        union all
        select {{ names | join(', ') }} from {{ this }}
        where {{ key }} in (select {{ key }} from {{ fresh }})
    ) as folded
    group by {{ grain | join(', ') }}
    {%- else -%}
    select * from {{ fresh }}
    {%- endif -%}
{%- endmacro %}
