-- One end user's cost over inclusive dates of the organization's calendar (its time zone).
select coalesce(sum(cost_usd), 0) as cost_usd
from fct_daily_costs
where
    organization_id = $org
    and end_user_id = $external_id
    and cost_date between $start_date and $end_date
