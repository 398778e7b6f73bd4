-- One organization's cost per day of its calendar before $before (complete days), from its
-- first day with a cost: the history a forecast reads (api/insights/forecast.py).
select
    cost_date,
    sum(cost_usd) as cost_usd
from fct_org_daily_model_costs
where
    organization_id = $org
    and cost_date < $before
group by cost_date
order by cost_date
