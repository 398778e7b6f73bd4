-- One organization's days before $until from fct_daily_cost_forecasts: each day's cost and
-- its weekday's window, for a forecast (api/insights/forecast.py).
select
    cost_date,
    cost_usd,
    window_cost_usd,
    window_days
from fct_daily_cost_forecasts
where
    organization_id = $org
    and cost_date < $until
order by cost_date
