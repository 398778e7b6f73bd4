insert into raw.metric_definitions (
    metric_id, organization_id, name, query_type, aggregation_type, event_name, value_type,
    sql_definition, runnable_sql, definition_version, indexable, not_indexed_reason, exported_at
)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13);
