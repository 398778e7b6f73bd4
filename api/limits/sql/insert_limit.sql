insert into limit_definitions (
    limit_id, organization_id, name, subject_type, subject_id, measure_type, metric_id,
    window_type, window_days, limit_amount, thresholds, hard, created_at, updated_at
) values (
    :limit_id, :organization_id, :name, :subject_type, :subject_id, :measure_type, :metric_id,
    :window_type, :window_days, :limit_amount, :thresholds, :hard, :now, :now
)
