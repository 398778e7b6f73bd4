-- Every UTC day from the first event to the build's as-of date (at most ~27 years).
with events as (
    select * from {{ ref('stg_tallyhouse__usage_events') }}
),

digits as (
    {% for digit in range(10) %}
        select {{ digit }} as digit {% if not loop.last %}
            union all{% endif %}
    {% endfor %}
),

numbers as (
    select a.digit + b.digit * 10 + c.digit * 100 + d.digit * 1000 as day_offset
    from digits as a
    cross join digits as b
    cross join digits as c
    cross join digits as d
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
