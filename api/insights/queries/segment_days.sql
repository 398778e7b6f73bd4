-- One organization's cost per day of its calendar in [$first_date, $last_date] and segment:
-- the value of $by (model, provider, feature or end_user; null: the organization's total),
-- for finding unusual days (api/insights/anomalies.py); with the organization's first day
-- with a cost.
with history as (
    select min(cost_date) as first_day
    from fct_org_daily_model_costs
    where organization_id = $org
),

segment_days as (
    select
        case $by
            when 'model' then model
            when 'provider' then provider
            when 'feature' then feature
            when 'end_user' then end_user_id
        end as segment,
        cost_date,
        sum(cost_usd) as cost_usd
    from fct_daily_costs
    where
        organization_id = $org
        and cost_date between $first_date and $last_date
    group by segment, cost_date
)

select
    segment_days.segment,
    segment_days.cost_date,
    segment_days.cost_usd,
    history.first_day
from segment_days
cross join history
order by segment_days.segment, segment_days.cost_date
