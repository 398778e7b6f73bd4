{#- fct_cost_anomalies, incremental on the embedded warehouse (docs/insights.md#anomalies): a
    day's row depends on the same weekday of the 8 weeks before it and on its organization's
    first and last day. So per organization with daily costs from ingest runs newer than its
    last build (raw.cost_anomaly_builds), the rows from `from_day` on are deleted (pre-hook)
    and built again: from the first day with a newer cost, or the day after the last day it
    had then (a later last day makes the days between candidates), whichever comes first.
    Every other organization and day keeps its rows; a full refresh, and Spark, build them
    all. -#}

{% macro anomaly_builds() -%}
    {{ return(this.incorporate(path={'schema': 'raw', 'identifier': 'cost_anomaly_builds'})) }}
{%- endmacro %}

{#- True on an incremental run of the embedded warehouse with its builds recorded. -#}
{% macro anomalies_rebuild_days() -%}
    {%- if not (is_incremental() and target.type == 'duckdb' and execute) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set builds = anomaly_builds() -%}
    {{ return(adapter.get_relation(builds.database, builds.schema, builds.identifier) is not none) }}
{%- endmacro %}

{#- Per organization to build, `from_day`: the first day whose row can change when
    `rebuilding`, else its first day. -#}
{% macro anomaly_days_to_rebuild(daily_costs, rebuilding=true) -%}
    {%- if not rebuilding -%}
    select
        organization_id,
        min(cost_date) as from_day
    from {{ daily_costs }}
    group by organization_id
    {%- else -%}
    select
        daily.organization_id,
        least(
            min(case when daily.last_ingest_run_id > coalesce(built.built_through, -1) then daily.cost_date end),
            coalesce(max(built.last_day) + 1, date '9999-12-31')
        ) as from_day
    from {{ daily_costs }} as daily
    left join {{ anomaly_builds() }} as built on daily.organization_id = built.organization_id
    group by daily.organization_id
    having max(daily.last_ingest_run_id) > coalesce(max(built.built_through), -1)
    {%- endif -%}
{%- endmacro %}

{#- Before an incremental run: the rows it builds again (all of them while no build of them
    is recorded: a table built before they were). -#}
{% macro delete_anomaly_days_to_rebuild() -%}
    {%- if anomalies_rebuild_days() -%}
        delete from {{ this }}
        using ({{ anomaly_days_to_rebuild(ref('fct_daily_costs')) }}) as rebuild
        where
            {{ this.identifier }}.organization_id = rebuild.organization_id
            and {{ this.identifier }}.cost_date >= rebuild.from_day
    {%- elif is_incremental() and execute -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- After every build of the mart on the embedded warehouse: what each organization's rows
    were built from (its newest ingest run and last day); a ledger, not an input of the build
    (orchestration/lib/build_state.py, LEDGER_RAW_TABLES). -#}
{% macro record_anomaly_builds() -%}
    {%- if target.type == 'duckdb' -%}
        create or replace table {{ anomaly_builds() }} as
        select
            organization_id,
            max(last_ingest_run_id) as built_through,
            max(cost_date) as last_day
        from {{ ref('fct_daily_costs') }}
        group by organization_id
    {%- endif -%}
{%- endmacro %}
