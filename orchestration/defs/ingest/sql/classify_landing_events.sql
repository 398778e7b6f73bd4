-- Each valid line is new, a duplicate (same organization, key and body as an event already
-- accepted, here or in an earlier run) or a conflict (same key, different body).
create or replace temp table landing_classified as
with valid as (
    select
        *,
        row_number() over (
            partition by organization_id, idempotency_key order by source_file, line_number
        ) as key_rank,
        first_value(body_hash) over (
            partition by organization_id, idempotency_key order by source_file, line_number
        ) as first_body_hash
    from landing_checked
    where reject_reason is null
)

select
    valid.*,
    case
        when existing.body_hash is not null and existing.body_hash = valid.body_hash then 'duplicate'
        when existing.body_hash is not null then 'conflict'
        when valid.key_rank = 1 then 'new'
        when valid.body_hash = valid.first_body_hash then 'duplicate'
        else 'conflict'
    end as outcome
from valid
left join raw.usage_events as existing
    on valid.organization_id = existing.organization_id
    and valid.idempotency_key = existing.idempotency_key;
