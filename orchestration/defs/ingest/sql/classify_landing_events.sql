-- Each valid line is new, a duplicate (same organization, key and body as an event already
-- accepted, here or in an earlier run) or a conflict (same key, different body). Only the
-- lines that are not new are kept (few): every other valid line is new. Keys are ranked only
-- where this run has them more than once, and compared with the stored events by one join.
create or replace temp table landing_not_new as
with valid as (
    select
        organization_id,
        idempotency_key,
        source_file,
        line_number,
        body_hash,
        raw_line
    from landing_checked
    where reject_reason is null
),

repeated as (
    select
        organization_id,
        idempotency_key
    from valid
    group by organization_id, idempotency_key
    having count(*) > 1
),

ranked as (
    select
        valid.*,
        row_number() over (
            partition by valid.organization_id, valid.idempotency_key
            order by valid.source_file, valid.line_number
        ) as key_rank,
        first_value(valid.body_hash) over (
            partition by valid.organization_id, valid.idempotency_key
            order by valid.source_file, valid.line_number
        ) as first_body_hash
    from valid
    inner join repeated
        on
        valid.organization_id = repeated.organization_id
        and valid.idempotency_key = repeated.idempotency_key
),

stored as (
    select
        valid.*,
        existing.body_hash as stored_body_hash
    from valid
    inner join raw.usage_events as existing
        on
        valid.organization_id = existing.organization_id
        and valid.idempotency_key = existing.idempotency_key
)

select
    organization_id,
    source_file,
    line_number,
    raw_line,
    case when body_hash = stored_body_hash then 'duplicate' else 'conflict' end as outcome
from stored
union all
select
    organization_id,
    source_file,
    line_number,
    raw_line,
    case when body_hash = first_body_hash then 'duplicate' else 'conflict' end as outcome
from ranked
where
    key_rank > 1
    and not exists (
        select 1
        from stored
        where
            stored.organization_id = ranked.organization_id
            and stored.idempotency_key = ranked.idempotency_key
    );
