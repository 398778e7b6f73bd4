select
    limit_id,
    organization_id,
    name,
    subject_type,
    subject_id,
    measure_type,
    metric_id,
    window_type,
    window_days,
    limit_amount,
    thresholds,
    hard,
    created_at,
    updated_at
from limit_definitions
where
    -- one organization's, or (organization_id null) every organization's
    (cast(:organization_id as varchar(64)) is null or organization_id = :organization_id)
    and deleted_at is null
    -- one limit, or (limit_id null) all of them
    and (cast(:limit_id as varchar(40)) is null or limit_id = :limit_id)
order by created_at, limit_id
