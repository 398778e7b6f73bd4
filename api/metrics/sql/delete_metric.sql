update metric_definitions
set deleted_at = :now
where organization_id = :organization_id and metric_id = :metric_id and deleted_at is null
