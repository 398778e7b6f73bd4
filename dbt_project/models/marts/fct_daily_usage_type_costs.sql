-- What a day's cost is made of, for explaining a change (docs/insights.md): one row per day of
-- the organization's calendar × organization × model × provider × feature × usage type, with
-- the units (tokens) and their cost. An event whose caller gave its cost is one unit of the
-- usage type 'caller_cost'. The rows of a day sum to fct_daily_costs' cost.
{{ config(
    materialized=rollup_materialization(),
    incremental_strategy='delete+insert',
    unique_key='daily_usage_type_cost_id',
    on_schema_change='fail'
) }}

with usage_costs as (
    select * from {{ ref('fct_usage_costs') }}
    where {{ only_unfolded_ingest_runs() }}
),

components as (
    select * from {{ ref('int_usage_components_priced') }}
    where {{ only_unfolded_ingest_runs() }}
),

timezones as (
    select * from {{ ref('stg_tallyhouse__organization_timezones') }}
),

-- each event's parts, with the event's columns (one join of the parts to their events)
parts as (
    select
        usage_costs.organization_id,
        usage_costs.event_at,
        usage_costs.model,
        usage_costs.provider,
        usage_costs.feature,
        usage_costs.ingest_run_id,
        components.usage_type,
        components.quantity as units,
        coalesce(components.cost_usd, 0) as cost_usd
    from components
    inner join usage_costs on components.event_id = usage_costs.event_id
    where usage_costs.pricing_status != 'caller_cost'
    union all
    select
        organization_id,
        event_at,
        model,
        provider,
        feature,
        ingest_run_id,
        'caller_cost' as usage_type,
        1 as units,
        cost_usd
    from usage_costs
    where pricing_status = 'caller_cost'
),

dated as (
    select
        parts.organization_id,
        {{ local_date('parts.event_at', "coalesce(timezones.timezone, 'UTC')") }} as local_date,
        parts.model,
        parts.provider,
        parts.feature,
        parts.ingest_run_id,
        parts.usage_type,
        parts.units,
        parts.cost_usd
    from parts
    left join timezones on parts.organization_id = timezones.organization_id
),

fresh as (
    select
        {{ row_key(['local_date', 'organization_id', 'model', 'provider', 'feature', 'usage_type']) }}
            as daily_usage_type_cost_id,
        local_date as cost_date,
        organization_id,
        model,
        provider,
        feature,
        usage_type,
        cast(sum(units) as decimal(38, 6)) as units,
        cast(sum(cost_usd) as decimal(38, 18)) as cost_usd,
        max(ingest_run_id) as last_ingest_run_id
    from dated
    group by local_date, organization_id, model, provider, feature, usage_type
),

final as (
    {{ folded_into_this(
        'fresh', 'daily_usage_type_cost_id',
        ['daily_usage_type_cost_id', 'cost_date', 'organization_id', 'model', 'provider', 'feature', 'usage_type'],
        [
            ('units', 'sum', 'decimal(38, 6)'),
            ('cost_usd', 'sum', 'decimal(38, 18)'),
            ('last_ingest_run_id', 'max', 'bigint'),
        ]
    ) }}
)

select * from final
