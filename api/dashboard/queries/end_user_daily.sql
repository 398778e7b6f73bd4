-- One end user's cost per day of the organization's calendar in [$first_date, $last_date].
select
    cost_date,
    sum(cost_usd) as cost_usd
from fct_daily_costs
where
    organization_id = $org
    and end_user_id = $user
    and cost_date between $first_date and $last_date
group by cost_date
order by cost_date
