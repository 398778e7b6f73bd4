-- The floor's per-event costs: a view over the landing files (nothing stored), doing the same
-- per-event work as the build (dedupe, split, active price set, long-context tier, cost) and
-- nothing else (no validation, quarantine, contracts, tests or snapshot). The floor's daily
-- mart (daily_costs.sql) and the read benchmark's "no warehouse" answers query it.
-- Inputs: the landing Parquet files, the price seed, and the model-name map (what a team
-- would keep by hand; the build resolves names against the catalogue's rules).
create or replace view floor_event_costs as
with landed as (
    select
        regexp_extract(filename, '/landing/([^/]+)/', 1) as organization_id,
        "idempotencyKey" as idempotency_key,
        "eventType" as event_type,
        "metricName" as metric_name,
        cast(quantity as decimal(18, 6)) as quantity,
        cast(cast("timestamp" as timestamptz) as timestamp) as event_at,
        "userId" as end_user_id,
        cast("costUsd" as decimal(18, 9)) as caller_cost_usd,
        metadata,
        row_number() over (
            partition by organization_id, "idempotencyKey" order by filename, file_row_number
        ) as key_rank
    from read_parquet(getvariable('landing_glob'), filename = true, file_row_number = true)
),

events as (
    select
        organization_id || ':' || idempotency_key as event_id,
        * exclude (metadata, key_rank),
        metadata ->> 'model' as model_ref,
        metadata ->> 'provider' as provider_ref,
        metadata ->> 'feature' as feature,
        cast(metadata ->> 'inputTokens' as bigint) as input_tokens,
        cast(metadata ->> 'outputTokens' as bigint) as output_tokens,
        cast(metadata ->> 'cacheReadTokens' as bigint) as cache_read_tokens,
        cast(metadata ->> 'cacheWriteTokens' as bigint) as cache_write_tokens,
        cast(metadata ->> 'reasoningTokens' as bigint) as reasoning_tokens
    from landed
    where key_rank = 1
),

components as (
    select event_id, replace(metric_name, '_tokens', '') as usage_type, quantity,
        cast(null as bigint) as tier_input_tokens
    from events
    where caller_cost_usd is null and metric_name like '%\_tokens' escape '\'
    union all
    select event_id, unnest(['input', 'output', 'cache_read', 'cache_write', 'reasoning']),
        unnest([input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens]),
        coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)
    from events
    where caller_cost_usd is null and metric_name = 'tokens' and (
        input_tokens is not null or output_tokens is not null or cache_read_tokens is not null
        or cache_write_tokens is not null or reasoning_tokens is not null)
    union all
    select event_id, 'input', quantity, cast(quantity as bigint)
    from events
    where caller_cost_usd is null and metric_name = 'tokens' and input_tokens is null
        and output_tokens is null and cache_read_tokens is null and cache_write_tokens is null
        and reasoning_tokens is null
),

prices as (
    select
        *,
        cast(substring(window_start_utc, 1, 2) as integer) * 3600
        + cast(substring(window_start_utc, 4, 2) as integer) * 60 as window_start_second,
        cast(substring(window_end_utc, 1, 2) as integer) * 3600
        + cast(substring(window_end_utc, 4, 2) as integer) * 60 as window_end_second
    from read_csv(getvariable('prices_csv'), header = true, types = {
        'usd_per_unit': 'decimal(20,18)', 'tier_start_input_tokens': 'bigint',
        'effective_from': 'date', 'window_start_utc': 'varchar', 'window_end_utc': 'varchar'
    })
),

resolved as (
    select events.event_id, events.event_at, names.price_provider_id, names.model_id
    from events
    inner join read_csv(getvariable('model_map_csv'), header = true) as names
        on events.model_ref = names.model_ref
        and coalesce(events.provider_ref, '~') = coalesce(names.provider_ref, '~')
    where names.model_id is not null
),

active_sets as (
    select
        resolved.event_id,
        coalesce(max(case
            when sets.constraint_type = 'none' then sets.price_set_index
            when sets.constraint_type = 'start_date'
                and cast(resolved.event_at as date) >= sets.effective_from then sets.price_set_index
            when sets.constraint_type = 'time_of_day' and (
                case when sets.window_end_second < sets.window_start_second
                    then second_of_day >= sets.window_start_second or second_of_day < sets.window_end_second
                    else second_of_day >= sets.window_start_second and second_of_day < sets.window_end_second
                end) then sets.price_set_index
        end), 0) as price_set_index,
        any_value(resolved.price_provider_id) as price_provider_id,
        any_value(resolved.model_id) as model_id
    from (
        select *, extract(hour from event_at) * 3600 + extract(minute from event_at) * 60
            + floor(extract(second from event_at)) as second_of_day
        from resolved
    ) as resolved
    inner join (select distinct provider_id, model_id, price_set_index, constraint_type,
            effective_from, window_start_second, window_end_second from prices) as sets
        on resolved.price_provider_id = sets.provider_id and resolved.model_id = sets.model_id
    group by resolved.event_id
),

component_sets as materialized (
    select components.*, active_sets.price_provider_id, active_sets.model_id,
        active_sets.price_set_index
    from components
    inner join active_sets on components.event_id = active_sets.event_id
    where components.quantity is not null
),

component_costs as (
    select
        component_sets.event_id,
        arg_max(cast(component_sets.quantity as decimal(18, 6)) * prices.usd_per_unit,
            prices.tier_start_input_tokens) as cost_usd
    from component_sets
    inner join prices
        on component_sets.price_provider_id = prices.provider_id
        and component_sets.model_id = prices.model_id
        and component_sets.price_set_index = prices.price_set_index
        and component_sets.usage_type = prices.usage_type
        and (prices.tier_start_input_tokens = 0
            or component_sets.tier_input_tokens > prices.tier_start_input_tokens)
    group by component_sets.event_id, component_sets.usage_type
),

event_costs as (
    select event_id, sum(cost_usd) as cost_usd from component_costs group by event_id
)

select
    events.organization_id,
    events.end_user_id,
    events.event_at,
    coalesce(names.model_id, events.model_ref) as model,
    events.provider_ref,
    events.feature,
    coalesce(events.caller_cost_usd, event_costs.cost_usd, 0) as cost_usd
from events
left join event_costs on events.event_id = event_costs.event_id
left join read_csv(getvariable('model_map_csv'), header = true) as names
    on events.model_ref = names.model_ref
    and coalesce(events.provider_ref, '~') = coalesce(names.provider_ref, '~');
