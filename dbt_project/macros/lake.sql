{#-
    On Spark the sources are Parquet files the orchestrator exported from the raw layer into
    the lake directory (var lake_dir); this hook registers them as tables before a run.
    Embedded DuckDB reads its own raw schema: nothing to do.
-#}
{% macro register_lake_sources() -%}
    {{ return(adapter.dispatch('register_lake_sources', 'tallyhouse')()) }}
{%- endmacro %}

{% macro default__register_lake_sources() -%}
{%- endmacro %}

{% macro spark__register_lake_sources() -%}
    {%- if execute -%}
        {%- do run_query("create database if not exists raw") -%}
        {%- for table in var("lake_tables", ["usage_events"]) -%}
            {%- do run_query("drop table if exists raw." ~ table) -%}
            {%- do run_query(
                "create table raw." ~ table ~ " using parquet location '"
                ~ var("lake_dir") ~ "/raw/" ~ table ~ "'"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
