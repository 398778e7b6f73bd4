update limit_definitions
set deleted_at = :now
where organization_id = :organization_id and limit_id = :limit_id and deleted_at is null
