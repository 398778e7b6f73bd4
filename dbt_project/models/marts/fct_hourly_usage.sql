{{ config(
    materialized=rollup_materialization(),
    incremental_strategy='delete+insert',
    unique_key='hourly_usage_id',
    on_schema_change='fail'
) }}

with usage_costs as (
    select * from {{ ref('fct_usage_costs') }}
    where {{ only_unfolded_ingest_runs() }}
),

fresh as (
    select
        {{ row_key([dbt.date_trunc('hour', 'event_at'), 'organization_id', 'end_user_id', 'event_type', 'metric_name']) }}
            as hourly_usage_id,
        {{ dbt.date_trunc('hour', 'event_at') }} as usage_hour,
        organization_id,
        end_user_id as customer_id,
        event_type,
        metric_name,
        count(*) as event_count,
        cast(sum(quantity) as decimal(38, 6)) as quantity_sum,
        cast(min(quantity) as decimal(18, 6)) as quantity_min,
        cast(max(quantity) as decimal(18, 6)) as quantity_max,
        cast(sum(cost_usd) as decimal(38, 18)) as cost_usd,
        max(ingest_run_id) as last_ingest_run_id
    from usage_costs
    group by {{ dbt.date_trunc('hour', 'event_at') }}, organization_id, end_user_id, event_type, metric_name
),

final as (
    {{ folded_into_this(
        'fresh', 'hourly_usage_id',
        ['hourly_usage_id', 'usage_hour', 'organization_id', 'customer_id', 'event_type', 'metric_name'],
        [
            ('event_count', 'sum', 'bigint'),
            ('quantity_sum', 'sum', 'decimal(38, 6)'),
            ('quantity_min', 'min', 'decimal(18, 6)'),
            ('quantity_max', 'max', 'decimal(18, 6)'),
            ('cost_usd', 'sum', 'decimal(38, 18)'),
            ('last_ingest_run_id', 'max', 'bigint'),
        ]
    ) }}
)

select * from final
