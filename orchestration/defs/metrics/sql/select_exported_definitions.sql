-- The definitions the export wrote, with whether each indexed one may be pre-computed.
select
    metric_id,
    organization_id,
    name,
    query_type,
    definition_version,
    indexable,
    runnable_sql,
    not_indexed_reason
from raw.metric_definitions
order by metric_id
