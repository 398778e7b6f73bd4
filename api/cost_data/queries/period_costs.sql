-- One organization's cost in the current and the previous period, in one statement. Each
-- period is whole UTC hours from the hourly rollup ($*_hours_start <= usage_hour <
-- $*_hours_end) plus its partial edge hours from the fact ($*_head_* and $*_tail_*, each
-- from <= event_at < to; an empty range when the period has no partial hour at that edge).
-- Both tables are sorted by organization and time, so each part reads few row groups.
select
    (
        select coalesce(sum(cost_usd), 0) from fct_org_hourly_costs
        where
            organization_id = $org
            and usage_hour >= $current_hours_start and usage_hour < $current_hours_end
    )
    + (
        select coalesce(sum(cost_usd), 0) from fct_usage_costs
        where
            organization_id = $org
            and event_at >= $current_head_from and event_at < $current_head_to
    )
    + (
        select coalesce(sum(cost_usd), 0) from fct_usage_costs
        where
            organization_id = $org
            and event_at >= $current_tail_from and event_at < $current_tail_to
    ) as current_cost,
    (
        select coalesce(sum(cost_usd), 0) from fct_org_hourly_costs
        where
            organization_id = $org
            and usage_hour >= $previous_hours_start and usage_hour < $previous_hours_end
    )
    + (
        select coalesce(sum(cost_usd), 0) from fct_usage_costs
        where
            organization_id = $org
            and event_at >= $previous_head_from and event_at < $previous_head_to
    )
    + (
        select coalesce(sum(cost_usd), 0) from fct_usage_costs
        where
            organization_id = $org
            and event_at >= $previous_tail_from and event_at < $previous_tail_to
    ) as previous_cost
