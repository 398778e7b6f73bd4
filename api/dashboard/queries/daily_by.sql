-- One organization's cost per day of its calendar in [$first_date, $last_date] and value of
-- $by (model or provider), for the dashboard's stacked daily chart.
select
    cost_date,
    case $by when 'model' then model when 'provider' then provider end as segment,
    sum(cost_usd) as cost_usd
from fct_daily_costs
where
    organization_id = $org
    and cost_date between $first_date and $last_date
group by all
order by cost_date, segment
