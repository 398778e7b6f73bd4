update metric_definitions
set
    name = :name,
    description = :description,
    event_name = :event_name,
    sql_definition = :sql_definition,
    version = version + 1,
    updated_at = :now
where organization_id = :organization_id and metric_id = :metric_id and deleted_at is null
