-- The slices an organization's indexed metrics are pre-computed over, per customer: ALL, each
-- calendar month since the customer's first event, and the $days (core.metric_sql.PRECOMPUTED_DAYS)
-- ending at the build's as_of, as_of included (as the API's RELATIVE). Each slice is a customer and a
-- half-open span [slice_start, slice_end); null bounds are open.
with build as (
    select cast($as_of as timestamp) as as_of_at
),

customers as (
    select
        customer_id,
        date_trunc('month', min(event_at)) as first_month
    from marts.fct_metric_events
    where organization_id = $org
    group by customer_id
),

month_starts as (
    select
        customers.customer_id,
        cast(months.month_start as timestamp) as month_start
    from customers
    cross join build
    cross join lateral unnest(
        generate_series(
            customers.first_month,
            date_trunc('month', build.as_of_at),
            interval 1 month
        )
    ) as months (month_start)
),

slices as (
    select
        customer_id,
        'ALL' as slice_key,
        'ALL' as slice_type,
        cast(null as integer) as relative_days,
        cast(null as timestamp) as slice_start,
        cast(null as timestamp) as slice_end
    from customers
    union all
    select
        customer_id,
        'MONTH:' || strftime(month_start, '%Y-%m') as slice_key,
        'MONTH' as slice_type,
        cast(null as integer) as relative_days,
        month_start as slice_start,
        month_start + interval 1 month as slice_end
    from month_starts
    union all
    select
        customers.customer_id,
        'RELATIVE:' || cast(days.relative_days as varchar) as slice_key,
        'RELATIVE' as slice_type,
        days.relative_days,
        build.as_of_at - to_days(days.relative_days) as slice_start,
        build.as_of_at + interval 1 microsecond as slice_end
    from customers
    cross join build
    cross join (select unnest($days) as relative_days) as days
)

select
    row_number() over (order by customer_id, slice_key) as slice_id,
    customer_id,
    slice_key,
    slice_type,
    relative_days,
    slice_start,
    slice_end
from slices
