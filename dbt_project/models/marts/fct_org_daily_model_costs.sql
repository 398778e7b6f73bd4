-- A compact rollup for breakdowns and trends: one organization's day per model and provider.
{{ config(
    materialized=rollup_materialization(),
    incremental_strategy='delete+insert',
    unique_key='cost_date',
    on_schema_change='fail'
) }}

with daily_costs as (
    select * from {{ ref('fct_daily_costs') }}
    where {{ only_touched('cost_date', ref('fct_daily_costs'), 'last_ingest_run_id') }}
),

final as (
    select
        {{ row_key(['cost_date', 'organization_id', 'model', 'provider']) }} as org_daily_model_cost_id,
        cost_date,
        organization_id,
        model,
        provider,
        cast(sum(event_count) as bigint) as event_count,
        cast(sum(unpriced_event_count) as bigint) as unpriced_event_count,
        cast(sum(cost_usd) as decimal(38, 18)) as cost_usd,
        max(last_ingest_run_id) as last_ingest_run_id
    from daily_costs
    group by cost_date, organization_id, model, provider
)

select * from final
