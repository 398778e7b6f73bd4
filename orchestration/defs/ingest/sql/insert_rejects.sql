-- $1 ingest run id, $2 now: invalid lines and idempotency conflicts, with their reason; a CSV
-- or Parquet row's text is in landing_typed_raw_lines (read again from its file for this)
insert into raw.rejected_events (
    organization_id, source_file, source_line, reason, raw_line, ingest_run_id, rejected_at
)
with refused as (
    select
        organization_id,
        source_file,
        line_number,
        reject_reason as reason,
        raw_line
    from landing_checked
    where reject_reason is not null
    union all
    select
        organization_id,
        source_file,
        line_number,
        'idempotencyKey: already used for a different event' as reason,
        raw_line
    from landing_not_new
    where outcome = 'conflict'
)

select
    refused.organization_id,
    refused.source_file,
    refused.line_number,
    refused.reason,
    coalesce(refused.raw_line, typed.raw_line) as raw_line,
    $1 as ingest_run_id,
    $2 as rejected_at
from refused
left join landing_typed_raw_lines as typed
    on refused.source_file = typed.source_file
    and refused.line_number = typed.line_number;
