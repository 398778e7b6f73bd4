-- A cost limit's usage: the cost of one organization's events in [period_start, period_end),
-- all of them ($subject_type 'organization') or one end user's, feature's, model's
-- (catalogue id) or provider's. What the latest build priced; unpriced events add nothing.
select coalesce(sum(cost_usd), 0) as usage
from fct_usage_costs
where
    organization_id = $org
    and event_at >= $period_start
    and event_at < $period_end
    and (
        $subject_type = 'organization'
        or case $subject_type
            when 'end_user' then end_user_id
            when 'feature' then feature
            when 'model' then model
            when 'provider' then provider
        end = $subject_id
    )
