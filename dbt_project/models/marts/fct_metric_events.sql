{{ config(
    materialized='incremental',
    incremental_strategy=event_fact_strategy(),
    on_schema_change='fail'
) }}

with usage_costs as (
    select * from {{ ref('fct_usage_costs') }}
    where {{ only_new_ingest_runs() }}
),

final as (
    select
        event_id,
        organization_id,
        end_user_id as customer_id,
        event_type as event_name,
        metric_name,
        quantity as event_value,
        event_string,
        metadata as properties,
        event_at,
        cost_usd,
        ingest_run_id
    from usage_costs
    where end_user_id is not null
)

select * from final
