with source as (
    select * from {{ ref('model_prices') }}
),

final as (
    select
        price_id,
        price_set_id,
        provider_id,
        model_id,
        price_set_index,
        constraint_type,
        effective_from,
        effective_to,
        window_start_utc,
        window_end_utc,
        cast(substring(window_start_utc, 1, 2) as integer) * 3600
        + cast(substring(window_start_utc, 4, 2) as integer) * 60
        + cast(substring(window_start_utc, 7, 2) as integer) as window_start_second,
        cast(substring(window_end_utc, 1, 2) as integer) * 3600
        + cast(substring(window_end_utc, 4, 2) as integer) * 60
        + cast(substring(window_end_utc, 7, 2) as integer) as window_end_second,
        usage_type,
        catalogue_price_key,
        tier_start_input_tokens,
        cast(usd_per_million as decimal(24, 12)) as usd_per_million,
        cast(usd_per_unit as decimal(20, 18)) as usd_per_unit
    from source
)

select * from final
