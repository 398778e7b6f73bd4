-- Each organization's cost per day of its calendar beside the day's prediction: the mean cost
-- of the same weekday over the 28 days before it (docs/insights.md#forecast). From its first
-- day with a cost to 28 days past its last, after which every prediction is 0. A day without
-- cost costs 0; weeks before the first day are left out of the mean. The forecast of a period
-- (GET /v1/cost-data/forecast) predicts each day left from the same weekday's row in the week
-- from today, and takes its band from the errors of the days before today.
with daily_costs as (
    select
        organization_id,
        cost_date,
        cast(sum(cost_usd) as decimal(30, 18)) as cost_usd
    -- the same sums as fct_daily_costs', from its few rows per organization's day
    from {{ ref('fct_org_daily_model_costs') }}
    group by organization_id, cost_date
),

bounds as (
    select
        organization_id,
        min(cost_date) as first_day,
        max(cost_date) as last_day
    from daily_costs
    group by organization_id
),

numbers as (
    {{ day_offsets() }}
),

calendar as (
    select
        bounds.organization_id,
        bounds.first_day,
        cast({{ dbt.dateadd('day', 'numbers.day_offset', 'bounds.first_day') }} as date) as cost_date
    from bounds
    cross join numbers
    where numbers.day_offset <= {{ dbt.datediff('bounds.first_day', 'bounds.last_day', 'day') }} + 28
),

weeks as (
    {{ week_numbers(1, 4) }}
),

-- the same weekday 1 – 4 weeks back, within the organization's history
window_days as (
    select
        calendar.organization_id,
        calendar.cost_date,
        cast({{ dbt.dateadd('day', '-7 * weeks.week', 'calendar.cost_date') }} as date) as window_date
    from calendar
    cross join weeks
    where cast({{ dbt.dateadd('day', '-7 * weeks.week', 'calendar.cost_date') }} as date) >= calendar.first_day
),

windows as (
    select
        window_days.organization_id,
        window_days.cost_date,
        cast(coalesce(sum(daily_costs.cost_usd), 0) as decimal(38, 18)) as window_cost_usd,
        count(*) as window_days
    from window_days
    left join daily_costs
        on
        window_days.organization_id = daily_costs.organization_id
        and window_days.window_date = daily_costs.cost_date
    group by window_days.organization_id, window_days.cost_date
),

final as (
    select
        calendar.organization_id,
        calendar.cost_date,
        cast(coalesce(daily_costs.cost_usd, 0) as decimal(38, 18)) as cost_usd,
        cast(coalesce(windows.window_cost_usd, 0) as decimal(38, 18)) as window_cost_usd,
        cast(coalesce(windows.window_days, 0) as int) as window_days,
        case
            when windows.window_days > 0
                then cast(windows.window_cost_usd as double) / windows.window_days
            else cast(0 as double)
        end as predicted_cost_usd
    from calendar
    left join daily_costs
        on
        calendar.organization_id = daily_costs.organization_id
        and calendar.cost_date = daily_costs.cost_date
    left join windows
        on
        calendar.organization_id = windows.organization_id
        and calendar.cost_date = windows.cost_date
)

select * from final
