-- Per-file counts of this run: lines, new events, rejects and duplicates. Counted per file
-- on each side first, then joined: the two sides are as long as the run, their counts are not.
-- A valid line is new unless landing_not_new has it (a duplicate or a conflict).
with checked as (
    select
        source_file,
        count(*) as lines,
        count(*) filter (where reject_reason is not null) as refused,
        count(*) filter (where reject_reason is null) as valid
    from landing_checked
    group by source_file
),

not_new as (
    select
        source_file,
        count(*) filter (where outcome = 'conflict') as conflicts,
        count(*) filter (where outcome = 'duplicate') as duplicates
    from landing_not_new
    group by source_file
)

select
    checked.source_file,
    checked.lines,
    checked.valid - coalesce(not_new.conflicts, 0) - coalesce(not_new.duplicates, 0)
        as events_ingested,
    checked.refused + coalesce(not_new.conflicts, 0) as events_rejected,
    coalesce(not_new.duplicates, 0) as duplicates
from checked
left join not_new on checked.source_file = not_new.source_file;
