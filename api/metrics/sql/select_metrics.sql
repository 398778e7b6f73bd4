select
    metric_id,
    organization_id,
    name,
    description,
    query_type,
    aggregation_type,
    event_name,
    value_type,
    sql_definition,
    version,
    created_at,
    updated_at
from metric_definitions
where
    organization_id = :organization_id
    and deleted_at is null
    -- one metric, or (metric_id null) all of them
    and (cast(:metric_id as varchar(40)) is null or metric_id = :metric_id)
order by created_at, metric_id
