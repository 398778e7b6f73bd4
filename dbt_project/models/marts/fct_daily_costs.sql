{{ config(
    materialized=rollup_materialization(),
    incremental_strategy='delete+insert',
    unique_key='daily_cost_id',
    on_schema_change='fail'
) }}

with usage_costs as (
    select * from {{ ref('fct_usage_costs') }}
    where {{ only_unfolded_ingest_runs() }}
),

fresh as (
    select
        {{ row_key(['event_date', 'organization_id', 'model', 'provider', 'feature', 'end_user_id']) }}
            as daily_cost_id,
        event_date as cost_date,
        organization_id,
        model,
        provider,
        feature,
        end_user_id,
        count(*) as event_count,
        cast(sum(case when pricing_status in ('unpriced', 'partially_priced') then 1 else 0 end) as bigint)
            as unpriced_event_count,
        cast(sum(case when pricing_status = 'caller_cost' then 1 else 0 end) as bigint)
            as caller_cost_event_count,
        cast(sum(cost_usd) as decimal(38, 18)) as cost_usd,
        max(ingest_run_id) as last_ingest_run_id
    from usage_costs
    group by event_date, organization_id, model, provider, feature, end_user_id
),

final as (
    {{ folded_into_this(
        'fresh', 'daily_cost_id',
        ['daily_cost_id', 'cost_date', 'organization_id', 'model', 'provider', 'feature', 'end_user_id'],
        [
            ('event_count', 'sum', 'bigint'),
            ('unpriced_event_count', 'sum', 'bigint'),
            ('caller_cost_event_count', 'sum', 'bigint'),
            ('cost_usd', 'sum', 'decimal(38, 18)'),
            ('last_ingest_run_id', 'max', 'bigint'),
        ]
    ) }}
)

select * from final
