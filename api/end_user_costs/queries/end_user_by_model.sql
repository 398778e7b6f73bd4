-- One end user's cost and events per model over inclusive dates of the organization's calendar (its time zone), most expensive first.
select
    model as name,
    sum(cost_usd) as cost_usd,
    sum(event_count) as event_count
from fct_daily_costs
where
    organization_id = $org
    and end_user_id = $external_id
    and cost_date between $start_date and $end_date
    and model is not null
group by model
order by cost_usd desc, name asc
