{#-
    The slices indexed metrics are pre-computed over: per organization x customer, ALL, each
    calendar month since the customer's first event, and the 7 / 30 / 90 days ending at the
    build's as_of. Metric SQL is DuckDB SQL, so other engines get none (and the API evaluates
    their indexed metrics on demand).
-#}
{% macro metric_slices(metric_events, as_of) -%}
    {{ return(adapter.dispatch('metric_slices', 'tallyhouse')(metric_events, as_of)) }}
{%- endmacro %}

{% macro default__metric_slices(metric_events, as_of) -%}
    select
        cast(null as {{ dbt.type_string() }}) as organization_id,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_string() }}) as slice_key,
        cast(null as {{ dbt.type_string() }}) as slice_type,
        cast(null as integer) as relative_days,
        cast(null as timestamp) as slice_start,
        cast(null as timestamp) as slice_end
    where 1 = 0
{%- endmacro %}

{% macro duckdb__metric_slices(metric_events, as_of) -%}
with customers as (
    select
        organization_id,
        customer_id,
        {{ dbt.date_trunc('month', 'min(event_at)') }} as first_month
    from {{ metric_events }}
    group by organization_id, customer_id
),

month_starts as (
    select
        customers.organization_id,
        customers.customer_id,
        cast(months.month_start as timestamp) as month_start
    from customers
    cross join {{ as_of }} as as_of
    cross join lateral unnest(
        generate_series(
            customers.first_month,
            {{ dbt.date_trunc('month', 'as_of.as_of_at') }},
            interval 1 month
        )
    ) as months (month_start)
)

select
    organization_id,
    customer_id,
    'ALL' as slice_key,
    'ALL' as slice_type,
    cast(null as integer) as relative_days,
    cast(null as timestamp) as slice_start,
    cast(null as timestamp) as slice_end
from customers
union all
select
    organization_id,
    customer_id,
    'MONTH:' || strftime(month_start, '%Y-%m') as slice_key,
    'MONTH' as slice_type,
    cast(null as integer) as relative_days,
    month_start as slice_start,
    month_start + interval 1 month as slice_end
from month_starts
union all
select
    customers.organization_id,
    customers.customer_id,
    'RELATIVE:' || cast(days.relative_days as {{ dbt.type_string() }}) as slice_key,
    'RELATIVE' as slice_type,
    days.relative_days,
    as_of.as_of_at - to_days(days.relative_days) as slice_start,
    -- the days x 24 hours ending at as_of, as_of included (as the API's RELATIVE)
    as_of.as_of_at + interval 1 microsecond as slice_end
from customers
cross join {{ as_of }} as as_of
cross join (values (7), (30), (90)) as days (relative_days)
{%- endmacro %}

{#- The indexed metrics to pre-compute: (metric_id, organization_id, version, runnable SQL). -#}
{% macro indexable_metric_definitions(definitions) -%}
    {{ return(adapter.dispatch('indexable_metric_definitions', 'tallyhouse')(definitions)) }}
{%- endmacro %}

{% macro default__indexable_metric_definitions(definitions) -%}
    {{ return([]) }}
{%- endmacro %}

{% macro duckdb__indexable_metric_definitions(definitions) -%}
    {#- before the first export (or when linting) there are none -#}
    {%- if not execute or load_relation(definitions) is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select metric_id, organization_id, definition_version, runnable_sql
        from {{ definitions }}
        where indexable
        order by metric_id
    {%- endset -%}
    {{ return(run_query(query).rows) }}
{%- endmacro %}
