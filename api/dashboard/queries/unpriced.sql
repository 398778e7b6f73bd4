-- One organization's events in [$first_date, $last_date] and how many were not (fully)
-- priced, for the dashboard's unpriced share.
select
    coalesce(sum(event_count), 0) as event_count,
    coalesce(sum(unpriced_event_count), 0) as unpriced_event_count
from fct_daily_costs
where
    organization_id = $org
    and cost_date between $first_date and $last_date
