-- $1 ingest run id, $2 now: invalid lines and idempotency conflicts, with their reason
insert into raw.rejected_events (
    organization_id, source_file, source_line, reason, raw_line, ingest_run_id, rejected_at
)
select
    organization_id,
    source_file,
    line_number,
    reject_reason as reason,
    raw_line,
    $1 as ingest_run_id,
    $2 as rejected_at
from landing_checked
where reject_reason is not null
union all
select
    organization_id,
    source_file,
    line_number,
    'idempotencyKey: already used for a different event' as reason,
    raw_line,
    $1 as ingest_run_id,
    $2 as rejected_at
from landing_classified
where outcome = 'conflict';
