-- The cost of one organization's events in [period_start, period_end), per subject: all of
-- them ($subject_type 'organization': subject null), or by end user, feature, model (catalogue
-- id) or provider — one ($subject_id) or every one (null). $grain 'period' gives a row per
-- subject; 'hour' a row per subject and hour; 'event' a row per subject and event instant.
-- What the latest build priced; unpriced events add nothing. No row: no cost.
with period_events as (
    select
        event_at,
        cost_usd,
        case $subject_type
            when 'end_user' then end_user_id
            when 'feature' then feature
            when 'model' then model
            when 'provider' then provider
        end as subject_id
    from fct_usage_costs
    where
        organization_id = $org
        and event_at >= $period_start
        and event_at < $period_end
)

select
    subject_id,
    case $grain
        when 'hour' then date_trunc('hour', event_at)
        when 'event' then event_at
    end as instant,
    coalesce(sum(cost_usd), 0) as usage
from period_events
where $subject_type = 'organization' or subject_id = coalesce($subject_id, subject_id)
group by subject_id, instant
order by instant
