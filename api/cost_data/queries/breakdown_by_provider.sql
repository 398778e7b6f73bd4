-- Cost and events per provider over inclusive dates of the organization's calendar (its time zone), most expensive first.
select
    provider as name,
    sum(cost_usd) as cost_usd,
    sum(event_count) as event_count
from fct_org_daily_model_costs
where
    organization_id = $org
    and cost_date between $start_date and $end_date
    and provider is not null
group by provider
order by cost_usd desc, name asc
