-- The landing side and the mart side of the serving snapshot, for the landing-rows check:
-- lines of the files ingested (an unreadable file counts as one row, rejected whole), then
-- fact rows, rejects and duplicates. API events taken from the inbox are added by the caller.
select
    (
        select coalesce(sum(case when status = 'rejected' then 1 else lines end), 0)
        from landing_files
    ) as file_rows,
    (select count(*) from fct_usage_costs) as fact_rows,
    (select count(*) from rejected_events) as rejects,
    (select coalesce(sum(duplicates), 0) from ingest_runs) as duplicates
