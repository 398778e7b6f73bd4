insert into metric_definitions (
    metric_id, organization_id, name, description, query_type, aggregation_type, event_name,
    value_type, sql_definition, version, created_at, updated_at
) values (
    :metric_id, :organization_id, :name, :description, :query_type, :aggregation_type,
    :event_name, :value_type, :sql_definition, 1, :now, :now
)
