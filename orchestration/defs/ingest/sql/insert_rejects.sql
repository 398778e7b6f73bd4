-- $1 ingest run id, $2 now: invalid lines and idempotency conflicts, with their reason
insert into raw.rejected_events
select organization_id, source_file, line_number, reject_reason, raw_line, $1, $2
from landing_checked
where reject_reason is not null
union all
select
    organization_id, source_file, line_number,
    'idempotencyKey: already used for a different event', raw_line, $1, $2
from landing_classified
where outcome = 'conflict';
