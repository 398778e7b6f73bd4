-- Which of a model's price sets is in force, as a few cells of (UTC date range × UTC
-- second-of-day range) per model: of the sets whose constraint holds (always, from a start
-- date, in a UTC time-of-day window that may wrap midnight), the last, else the first; a
-- model with one set uses it whatever its constraint. Every start date and window edge is a
-- cell boundary, so a constraint holds on all of a cell or on none of it, and each instant
-- falls in exactly one cell of its model: pricing an event is a join on the model and its
-- instant with this small table, no search among the sets per event.
with prices as (
    select * from {{ ref('stg_genai_prices__model_prices') }}
),

price_sets as (
    select distinct
        provider_id,
        model_id,
        price_set_index,
        constraint_type,
        effective_from,
        window_start_second,
        window_end_second
    from prices
),

models as (
    select
        provider_id,
        model_id,
        count(*) as price_sets
    from price_sets
    group by provider_id, model_id
),

date_starts as (
    select
        provider_id,
        model_id,
        cast(null as date) as date_from
    from models
    union
    select
        provider_id,
        model_id,
        effective_from
    from price_sets
    where constraint_type = 'start_date' and effective_from is not null
),

date_ranges as (
    select
        provider_id,
        model_id,
        date_from,
        lead(date_from) over (
            partition by provider_id, model_id order by date_from asc nulls first
        ) as date_to
    from date_starts
),

second_starts as (
    select
        provider_id,
        model_id,
        0 as second_from
    from models
    union
    select
        provider_id,
        model_id,
        window_start_second
    from price_sets
    where constraint_type = 'time_of_day'
    union
    select
        provider_id,
        model_id,
        window_end_second
    from price_sets
    where constraint_type = 'time_of_day'
),

second_ranges as (
    select
        provider_id,
        model_id,
        second_from,
        coalesce(
            lead(second_from) over (partition by provider_id, model_id order by second_from),
            86400
        ) as second_to
    from second_starts
    where second_from >= 0 and second_from < 86400
),

cells as (
    select
        date_ranges.provider_id,
        date_ranges.model_id,
        date_ranges.date_from,
        date_ranges.date_to,
        second_ranges.second_from,
        second_ranges.second_to
    from date_ranges
    inner join second_ranges
        on date_ranges.provider_id = second_ranges.provider_id
        and date_ranges.model_id = second_ranges.model_id
),

-- each cell's set, judged at its first day and second (the same all over the cell)
final as (
    select
        cells.provider_id,
        cells.model_id,
        cells.date_from,
        cells.date_to,
        cells.second_from,
        cells.second_to,
        case when max(models.price_sets) = 1 then 0 else coalesce(max(case
                    when price_sets.constraint_type = 'none' then price_sets.price_set_index
                    when price_sets.constraint_type = 'start_date'
                        and cells.date_from >= price_sets.effective_from
                        then price_sets.price_set_index
                    when price_sets.constraint_type = 'time_of_day'
                        and price_sets.window_end_second < price_sets.window_start_second
                        and (
                            cells.second_from >= price_sets.window_start_second
                            or cells.second_from < price_sets.window_end_second
                        )
                        then price_sets.price_set_index
                    when price_sets.constraint_type = 'time_of_day'
                        and cells.second_from >= price_sets.window_start_second
                        and cells.second_from < price_sets.window_end_second
                        then price_sets.price_set_index
                end), 0)
        end as price_set_index
    from cells
    inner join models
        on cells.provider_id = models.provider_id
        and cells.model_id = models.model_id
    inner join price_sets
        on cells.provider_id = price_sets.provider_id
        and cells.model_id = price_sets.model_id
    group by
        cells.provider_id,
        cells.model_id,
        cells.date_from,
        cells.date_to,
        cells.second_from,
        cells.second_to
)

select * from final
