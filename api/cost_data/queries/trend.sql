-- Cost and events per day, week (Monday) or month bucket over inclusive dates of the organization's calendar (its time zone).
select
    cast(date_trunc($granularity, cost_date) as date) as bucket_start,
    sum(cost_usd) as cost_usd,
    sum(event_count) as event_count
from fct_org_daily_model_costs
where
    organization_id = $org
    and cost_date between $start_date and $end_date
group by bucket_start
order by bucket_start
