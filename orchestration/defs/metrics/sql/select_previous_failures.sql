-- The metrics the last build tried and could not pre-compute, by the version it tried (none
-- before the first build that wrote dim_metrics).
select
    metric_id,
    definition_version,
    not_precomputed_reason
from marts.dim_metrics
where precompute_failed
