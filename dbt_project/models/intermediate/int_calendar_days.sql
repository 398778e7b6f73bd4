-- Every UTC day from the first event to the build's as-of date (at most ~27 years).
with events as (
    select * from {{ ref('stg_tallyhouse__usage_events') }}
),

numbers as (
    {{ day_offsets() }}
),

bounds as (
    select
        cast(min(event_at) as date) as first_date,
        greatest(
            cast(max(event_at) as date),
            cast(cast('{{ env_var('TALLYHOUSE_DBT_AS_OF', '2026-01-01T00:00:00') }}' as timestamp) as date)
        ) as last_date
    from events
),

final as (
    select
        cast({{ dbt.dateadd('day', 'numbers.day_offset', 'bounds.first_date') }} as date)
            as calendar_date
    from bounds
    cross join numbers
    where cast({{ dbt.dateadd('day', 'numbers.day_offset', 'bounds.first_date') }} as date)
        <= bounds.last_date
)

select * from final
