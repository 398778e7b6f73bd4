-- Per-file counts of this run: lines, new events, rejects and duplicates. Counted per file
-- on each side first, then joined: the two sides are as long as the run, their counts are not.
with checked as (
    select
        source_file,
        count(*) as lines,
        count(*) filter (where reject_reason is not null) as refused
    from landing_checked
    group by source_file
),

classified as (
    select
        source_file,
        count(*) filter (where outcome = 'new') as events_ingested,
        count(*) filter (where outcome = 'conflict') as conflicts,
        count(*) filter (where outcome = 'duplicate') as duplicates
    from landing_classified
    group by source_file
)

select
    checked.source_file,
    checked.lines,
    coalesce(classified.events_ingested, 0) as events_ingested,
    checked.refused + coalesce(classified.conflicts, 0) as events_rejected,
    coalesce(classified.duplicates, 0) as duplicates
from checked
left join classified on checked.source_file = classified.source_file;
