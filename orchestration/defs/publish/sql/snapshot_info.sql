-- One row describing the snapshot: its version, when it was built, and what it holds.
-- $1 version, $2 built at (UTC), $3 digest of the build's inputs, $4 of the dbt project and
-- engine alone (orchestration/lib/build_state.py), $5 the cost fact's total as exact text
-- (orchestration/defs/publish/snapshot.py, _total_cost), $6 how far into the landing store
-- the build's ingest reached (the inbox watermark): the API's metric values add the store's
-- events after it (api/metrics/live.py), $7 the organizations' time zones the daily marts
-- are dated in, as JSON {organization: IANA name} (the others UTC; core/organizations.py)
create table snapshot.main.snapshot_info as
select
    $1::varchar as snapshot_version,
    $2::timestamp as built_at,
    $3::varchar as input_fingerprint,
    $4::varchar as project_fingerprint,
    (select count(*) from snapshot.main.fct_usage_costs) as events,
    cast(cast($5 as varchar) as decimal(38, 18)) as cost_usd,
    (select count(*) from snapshot.main.rejected_events) as rejected_events,
    $6::bigint as inbox_through_seq,
    $7::varchar as timezones;
