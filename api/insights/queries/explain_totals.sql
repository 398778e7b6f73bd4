-- The two periods' totals and unpriced events (fct_daily_costs), inclusive dates of the
-- organization's calendar.
select
    coalesce(sum(cost_usd) filter (where cost_date between $base_first and $base_last), 0) as base_cost,
    coalesce(sum(cost_usd) filter (where cost_date between $first_date and $last_date), 0) as current_cost,
    coalesce(sum(unpriced_event_count) filter (where cost_date between $base_first and $base_last), 0)
        as base_unpriced,
    coalesce(sum(unpriced_event_count) filter (where cost_date between $first_date and $last_date), 0)
        as current_unpriced
from fct_daily_costs
where
    organization_id = $org
    and (cost_date between $base_first and $base_last or cost_date between $first_date and $last_date)
