with usage_costs as (
    select * from {{ ref('fct_usage_costs') }}
),

final as (
    select
        {{ row_key(['organization_id', 'end_user_id']) }} as end_user_key,
        organization_id,
        end_user_id,
        min(event_at) as first_seen_at,
        max(event_at) as last_seen_at,
        count(*) as event_count,
        cast(sum(cost_usd) as decimal(38, 18)) as cost_usd
    from usage_costs
    where end_user_id is not null
    group by organization_id, end_user_id
)

select * from final
