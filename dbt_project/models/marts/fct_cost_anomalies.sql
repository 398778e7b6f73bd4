-- Days whose cost is unusual for their segment (docs/insights.md#anomalies): per organization,
-- dimension (the organization's total, model, provider, feature, end_user) and segment (the
-- dimension's value), each day whose cost x departs from the same weekday of the 8 weeks
-- before it. At least 4 of those weeks lie within the organization's history (from its first
-- day with a cost); a day without cost counts 0. With m their median (expected_usd) and MAD
-- the median of |xᵢ − m|, the robust z-score is |x − m| / (1.4826 · MAD); a day is here when
-- it is above 3.5. When MAD is 0 the scale is 1.253314 × the mean of |xᵢ − m|; when that is 0
-- too, any departure is here, with no score. The minimum impact in dollars is the reader's
-- (the API's min_impact). Every comparison is exact in DECIMAL; the score is a DOUBLE.
-- On the embedded warehouse an incremental build builds again only the days whose rows can
-- change, per organization from `from_day` (macros/anomalies.sql); any other build, all days.
{{ config(
    materialized=rollup_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_anomaly_days_to_rebuild() }}",
    post_hook="{{ record_anomaly_builds() }}"
) }}
{%- set dimensions = {
    'organization': none, 'model': 'model', 'provider': 'provider', 'feature': 'feature',
    'end_user': 'end_user_id'} %}
with all_daily_costs as (
    select * from {{ ref('fct_daily_costs') }}
),

rebuild as (
    {{ anomaly_days_to_rebuild('all_daily_costs', anomalies_rebuild_days()) }}
),

-- the days to build and the 8 weeks before them
daily_costs as (
    select all_daily_costs.*
    from all_daily_costs
    inner join rebuild on all_daily_costs.organization_id = rebuild.organization_id
    where all_daily_costs.cost_date >= cast({{ dbt.dateadd('day', -56, 'rebuild.from_day') }} as date)
),

bounds as (
    select
        organization_id,
        min(cost_date) as first_day,
        max(cost_date) as last_day
    from all_daily_costs
    group by organization_id
),

segment_costs as (
    {%- for dimension, column in dimensions.items() %}
        select
            organization_id,
            '{{ dimension }}' as dimension,
            cast({{ column or 'null' }} as {{ dbt.type_string() }}) as segment,
            cost_date,
            cast(sum(cost_usd) as decimal(30, 18)) as cost_usd
        from daily_costs
        group by organization_id, {% if column %}{{ column }}, {% endif %}cost_date
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

weeks as (
    {{ week_numbers(0, 8) }}
),

-- the days a segment's cost or one of its 8 weeks before has a cost (every other day departs
-- from nothing), up to the organization's last day
candidates as (
    select distinct
        segment_costs.organization_id,
        segment_costs.dimension,
        segment_costs.segment,
        cast({{ dbt.dateadd('day', '7 * weeks.week', 'segment_costs.cost_date') }} as date) as cost_date,
        bounds.first_day
    from segment_costs
    cross join weeks
    inner join bounds on segment_costs.organization_id = bounds.organization_id
    inner join rebuild on segment_costs.organization_id = rebuild.organization_id
    where
        cast({{ dbt.dateadd('day', '7 * weeks.week', 'segment_costs.cost_date') }} as date)
        between rebuild.from_day and bounds.last_day
),

-- the same weekday 1 – 8 weeks back, within the organization's history
history as (
    select
        candidates.organization_id,
        candidates.dimension,
        candidates.segment,
        candidates.cost_date,
        coalesce(segment_costs.cost_usd, 0) as cost_usd
    from candidates
    cross join weeks
    left join segment_costs
        on
        candidates.organization_id = segment_costs.organization_id
        and candidates.dimension = segment_costs.dimension
        and candidates.segment is not distinct from segment_costs.segment
        and cast({{ dbt.dateadd('day', '-7 * weeks.week', 'candidates.cost_date') }} as date)
        = segment_costs.cost_date
    where
        weeks.week >= 1
        and cast({{ dbt.dateadd('day', '-7 * weeks.week', 'candidates.cost_date') }} as date)
        >= candidates.first_day
),

-- each candidate's values, sorted (at least 4 weeks of history)
history_values as (
    select
        organization_id,
        dimension,
        segment,
        cost_date,
        count(*) as week_count,
        {{ sorted_list('cost_usd') }} as costs
    from history
    group by organization_id, dimension, segment, cost_date
    having count(*) >= 4
),

-- the median of n sorted values: the middle one, or the mean of the two middle ones
medians as (
    select
        organization_id,
        dimension,
        segment,
        cost_date,
        week_count,
        costs,
        cast(
            cast({{ median_sum('costs', 'week_count') }} as decimal(32, 18)) * 0.5 as decimal(32, 19)
        ) as expected_usd
    from history_values
),

deviations as (
    select
        organization_id,
        dimension,
        segment,
        cost_date,
        week_count,
        {{ sorted_list_of(list_map(
            'costs', 'cost', 'cast(abs(cost - expected_usd) as decimal(32, 19))'
        )) }} as deviations
    from medians
),

spreads as (
    select
        organization_id,
        dimension,
        segment,
        cost_date,
        cast(
            cast({{ median_sum('deviations', 'week_count') }} as decimal(32, 19)) * 0.5
            as decimal(30, 20)
        ) as mad,
        {{ list_total('deviations', 'decimal(30, 19)') }} as total_deviation
    from deviations
),

scored as (
    select
        medians.organization_id,
        medians.dimension,
        medians.segment,
        medians.cost_date,
        medians.week_count,
        medians.expected_usd,
        cast(coalesce(segment_costs.cost_usd, 0) as decimal(30, 18)) as actual_usd,
        cast(abs(coalesce(segment_costs.cost_usd, 0) - medians.expected_usd) as decimal(32, 19))
            as impact_usd,
        spreads.mad,
        spreads.total_deviation
    from medians
    inner join spreads
        on
        medians.organization_id = spreads.organization_id
        and medians.dimension = spreads.dimension
        and medians.segment is not distinct from spreads.segment
        and medians.cost_date = spreads.cost_date
    left join segment_costs
        on
        medians.organization_id = segment_costs.organization_id
        and medians.dimension = segment_costs.dimension
        and medians.segment is not distinct from segment_costs.segment
        and medians.cost_date = segment_costs.cost_date
),

final as (
    select
        organization_id,
        dimension,
        segment,
        cost_date,
        cast(week_count as int) as week_count,
        cast(expected_usd as decimal(32, 19)) as expected_usd,
        cast(actual_usd as decimal(30, 18)) as actual_usd,
        cast(impact_usd as decimal(32, 19)) as impact_usd,
        case
            when mad > 0 then cast(impact_usd as double) / cast(1.4826 * mad as double)
            when total_deviation > 0
                then cast(cast(week_count as decimal(2, 0)) * impact_usd as double)
                    / cast(1.253314 * total_deviation as double)
        end as score
    from scored
    where
        impact_usd > 0
        and (
            (mad > 0 and impact_usd > 5.1891 * mad)  -- 3.5 × 1.4826
            or (
                mad = 0
                -- n · |x − m| > 3.5 × 1.253314 × Σ|xᵢ − m|, and with no deviation at all, any
                and cast(week_count as decimal(2, 0)) * impact_usd > 4.386599 * total_deviation
            )
        )
)

select * from final
