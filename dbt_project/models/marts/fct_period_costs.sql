-- Every organization's cost per calendar week and month against the period before, overall
-- ('(all models)') and per model. Periods run without gaps from the organization's first
-- event to the build's as-of date, so a quiet period shows as zero.
-- (its days per model from fct_org_daily_model_costs: the same sums as fct_daily_costs', in a
-- few thousand rows instead of one per end user and feature)
with daily_costs as (
    select * from {{ ref('fct_org_daily_model_costs') }}
),

days as (
    select * from {{ ref('int_calendar_days') }}
),

org_ranges as (
    select
        organization_id,
        min(cost_date) as first_date
    from daily_costs
    group by organization_id
),

org_models as (
    select distinct
        organization_id,
        model
    from daily_costs
    union all
    select
        organization_id,
        '(all models)' as model
    from org_ranges
),

periods as (
    {% for grain in ['week', 'month'] %}
        select distinct
            '{{ grain }}' as period_grain,
            cast({{ dbt.date_trunc(grain, 'calendar_date') }} as date) as period_start
        from days
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

org_periods as (
    select
        org_models.organization_id,
        org_models.model,
        periods.period_grain,
        periods.period_start
    from org_models
    inner join org_ranges on org_models.organization_id = org_ranges.organization_id
    inner join periods
        on (
            periods.period_grain = 'month'
            and periods.period_start >= cast({{ dbt.date_trunc('month', 'org_ranges.first_date') }} as date)
        )
        or (
            periods.period_grain = 'week'
            and periods.period_start >= cast({{ dbt.date_trunc('week', 'org_ranges.first_date') }} as date)
        )
),

costs as (
    {% for grain in ['week', 'month'] %}
        select
            organization_id,
            model,
            '{{ grain }}' as period_grain,
            cast({{ dbt.date_trunc(grain, 'cost_date') }} as date) as period_start,
            sum(cost_usd) as cost_usd,
            sum(event_count) as event_count
        from daily_costs
        group by organization_id, model, cast({{ dbt.date_trunc(grain, 'cost_date') }} as date)
        union all
        select
            organization_id,
            '(all models)' as model,
            '{{ grain }}' as period_grain,
            cast({{ dbt.date_trunc(grain, 'cost_date') }} as date) as period_start,
            sum(cost_usd) as cost_usd,
            sum(event_count) as event_count
        from daily_costs
        group by organization_id, cast({{ dbt.date_trunc(grain, 'cost_date') }} as date)
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

filled as (
    select
        org_periods.organization_id,
        org_periods.model,
        org_periods.period_grain,
        org_periods.period_start,
        coalesce(costs.cost_usd, 0) as cost_usd,
        cast(coalesce(costs.event_count, 0) as bigint) as event_count
    from org_periods
    left join costs
        on org_periods.organization_id = costs.organization_id
        and org_periods.model = costs.model
        and org_periods.period_grain = costs.period_grain
        and org_periods.period_start = costs.period_start
),

compared as (
    select
        current_period.*,
        coalesce(previous_period.cost_usd, 0) as previous_cost_usd
    from filled as current_period
    left join filled as previous_period
        on current_period.organization_id = previous_period.organization_id
        and current_period.model = previous_period.model
        and current_period.period_grain = previous_period.period_grain
        and previous_period.period_start = case current_period.period_grain
            when 'week' then cast({{ dbt.dateadd('day', -7, 'current_period.period_start') }} as date)
            else cast({{ dbt.dateadd('month', -1, 'current_period.period_start') }} as date)
        end
),

final as (
    select
        {{ row_key(['organization_id', 'model', 'period_grain', 'period_start']) }} as period_cost_id,
        organization_id,
        model,
        period_grain,
        period_start,
        cast(case period_grain
            when 'week' then {{ dbt.dateadd('day', 7, 'period_start') }}
            else {{ dbt.dateadd('month', 1, 'period_start') }}
        end as date) as period_end_exclusive,
        event_count,
        cast(cost_usd as decimal(38, 18)) as cost_usd,
        cast(previous_cost_usd as decimal(38, 18)) as previous_cost_usd,
        cast(cost_usd - previous_cost_usd as decimal(38, 18)) as change_usd,
        -- null when the previous period cost nothing: a change from zero has no percentage
        cast(case
            when previous_cost_usd = 0 then null
            else round(cast((cost_usd - previous_cost_usd) * 100 as double) / cast(previous_cost_usd as double), 4)
        end as double) as change_percent
    from compared
)

select * from final
