-- Per-file counts of this run: lines, new events, rejects and duplicates.
select
    checked.source_file,
    count(*) as lines,
    count(*) filter (where classified.outcome = 'new') as events_ingested,
    count(*) filter (
        where checked.reject_reason is not null or classified.outcome = 'conflict'
    ) as events_rejected,
    count(*) filter (where classified.outcome = 'duplicate') as duplicates
from landing_checked as checked
left join landing_classified as classified
    on checked.source_file = classified.source_file
    and checked.line_number = classified.line_number
group by checked.source_file;
