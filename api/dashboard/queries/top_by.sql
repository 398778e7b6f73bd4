-- One organization's costliest values of $by (end_user or feature) in [$first_date,
-- $last_date], with their events, for the dashboard's top lists; null is "(none)". Also model
-- or provider, for the subjects of a limit on each of them.
select
    coalesce(case $by
        when 'end_user' then end_user_id when 'feature' then feature when 'model' then model
        when 'provider' then provider
    end, '(none)')
        as segment,
    sum(cost_usd) as cost_usd,
    sum(event_count) as event_count
from fct_daily_costs
where
    organization_id = $org
    and cost_date between $first_date and $last_date
group by all
order by cost_usd desc, segment asc
limit $top
