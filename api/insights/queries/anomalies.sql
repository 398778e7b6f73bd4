-- One organization's unusual days in [$first_date, $last_date] by $dimension (organization,
-- model, provider, feature or end_user) from fct_cost_anomalies, with an impact of at least
-- $min_impact dollars, largest impact first.
select
    segment,
    cost_date,
    expected_usd,
    actual_usd,
    impact_usd,
    score
from fct_cost_anomalies
where
    organization_id = $org
    and dimension = $dimension
    and cost_date between $first_date and $last_date
    and impact_usd >= $min_impact
order by impact_usd desc, cost_date asc, segment asc nulls first
