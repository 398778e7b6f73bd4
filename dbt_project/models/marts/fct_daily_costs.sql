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

timezones as (
    select * from {{ ref('stg_tallyhouse__organization_timezones') }}
),

-- each event on its organization's calendar day (UTC without a zone set)
dated as (
    select
        usage_costs.*,
        {{ local_date('usage_costs.event_at', "coalesce(timezones.timezone, 'UTC')") }} as local_date
    from usage_costs
    left join timezones on usage_costs.organization_id = timezones.organization_id
),

fresh as (
    select
        {{ row_key(['local_date', 'organization_id', 'model', 'provider', 'feature', 'end_user_id']) }}
            as daily_cost_id,
        local_date as cost_date,
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
    from dated
    group by local_date, organization_id, model, provider, feature, end_user_id
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
