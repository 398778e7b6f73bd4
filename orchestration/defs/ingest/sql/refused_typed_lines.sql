-- The CSV and Parquet rows refused in this run (invalid, or a conflicting key): their text is
-- written from the file for raw.rejected_events
select
    source_file,
    line_number
from landing_checked
where reject_reason is not null and raw_line is null
union all
select
    source_file,
    line_number
from landing_not_new
where outcome = 'conflict' and raw_line is null;
