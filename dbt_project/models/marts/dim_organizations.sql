-- One row per organization (with costs, or with a time zone set): the time zone its daily
-- marts' dates (cost_date) are in. UTC until one is set (`tallyhouse orgs set`).
with timezones as (
    select * from {{ ref('stg_tallyhouse__organization_timezones') }}
),

with_costs as (
    select distinct organization_id from {{ ref('fct_org_daily_model_costs') }}
),

final as (
    select
        coalesce(with_costs.organization_id, timezones.organization_id) as organization_id,
        coalesce(timezones.timezone, 'UTC') as timezone
    from with_costs
    full outer join timezones on with_costs.organization_id = timezones.organization_id
)

select * from final
