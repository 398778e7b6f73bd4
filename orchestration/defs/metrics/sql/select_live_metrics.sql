select
    metric_id,
    organization_id,
    name,
    query_type,
    aggregation_type,
    event_name,
    value_type,
    sql_definition,
    version
from metric_definitions
where deleted_at is null
order by organization_id, metric_id
