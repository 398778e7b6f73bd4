insert into marts.dim_metrics (
    metric_id, organization_id, name, query_type, definition_version, precomputed,
    precompute_failed, not_precomputed_reason, as_of
)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9);
