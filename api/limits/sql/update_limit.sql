update limit_definitions
set
    name = :name,
    window_type = :window_type,
    window_days = :window_days,
    limit_amount = :limit_amount,
    thresholds = :thresholds,
    hard = :hard,
    updated_at = :now
where organization_id = :organization_id and limit_id = :limit_id and deleted_at is null
