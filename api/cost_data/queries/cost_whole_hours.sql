-- One organization's cost over whole UTC hours: $hours_start <= usage_hour < $hours_end.
select coalesce(sum(cost_usd), 0) as cost_usd
from fct_org_hourly_costs
where
    organization_id = $org
    and usage_hour >= $hours_start
    and usage_hour < $hours_end
