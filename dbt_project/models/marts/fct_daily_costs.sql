{{ config(
    materialized=rollup_materialization(),
    incremental_strategy='delete+insert',
    unique_key='cost_date',
    on_schema_change='fail'
) }}

with usage_costs as (
    select * from {{ ref('fct_usage_costs') }}
    where {{ only_touched('event_date', ref('fct_usage_costs')) }}
),

final as (
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
)

select * from final
