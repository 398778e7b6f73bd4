-- What the last build did with an indexed metric: pre-computed, or why not.
select
    definition_version,
    precomputed,
    not_precomputed_reason,
    as_of
from dim_metrics
where
    organization_id = $org
    and metric_id = $metric_id
