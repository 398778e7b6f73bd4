-- The catalogue's models with the base prices in force at the build's as-of instant.
with prices as (
    select * from {{ ref('stg_genai_prices__model_prices') }}
),

providers as (
    select * from {{ ref('stg_genai_prices__providers') }}
),

as_of as (
    select cast('{{ env_var('TALLYHOUSE_DBT_AS_OF', '2026-01-01T00:00:00') }}' as timestamp) as as_of_at
),

active_sets as (
    select
        prices.provider_id,
        prices.model_id,
        coalesce(max(case
            when prices.constraint_type = 'none' then prices.price_set_index
            when prices.constraint_type = 'start_date'
                and cast(as_of.as_of_at as date) >= prices.effective_from then prices.price_set_index
            when prices.constraint_type = 'time_of_day'
                and prices.window_end_second < prices.window_start_second
                and (
                    {{ second_of_day('as_of.as_of_at') }} >= prices.window_start_second
                    or {{ second_of_day('as_of.as_of_at') }} < prices.window_end_second
                )
                then prices.price_set_index
            when prices.constraint_type = 'time_of_day'
                and {{ second_of_day('as_of.as_of_at') }} >= prices.window_start_second
                and {{ second_of_day('as_of.as_of_at') }} < prices.window_end_second
                then prices.price_set_index
        end), 0) as price_set_index
    from prices
    cross join as_of
    group by prices.provider_id, prices.model_id
),

current_prices as (
    select
        prices.provider_id,
        prices.model_id,
        max(prices.price_set_id) as price_set_id,
        max(case when prices.usage_type = 'input' then prices.usd_per_million end)
            as input_usd_per_million,
        max(case when prices.usage_type = 'output' then prices.usd_per_million end)
            as output_usd_per_million,
        max(case when prices.usage_type = 'cache_read' then prices.usd_per_million end)
            as cache_read_usd_per_million,
        max(case when prices.usage_type = 'cache_write' then prices.usd_per_million end)
            as cache_write_usd_per_million,
        max(case when prices.usage_type = 'reasoning' then prices.usd_per_million end)
            as reasoning_usd_per_million
    from prices
    inner join active_sets
        on prices.provider_id = active_sets.provider_id
        and prices.model_id = active_sets.model_id
        and prices.price_set_index = active_sets.price_set_index
    where prices.tier_start_input_tokens = 0
    group by prices.provider_id, prices.model_id
),

model_facts as (
    select
        provider_id,
        model_id,
        count(distinct price_set_id) as price_sets,
        max(case when tier_start_input_tokens > 0 then 1 else 0 end) as has_long_context_tiers,
        max(case when constraint_type = 'time_of_day' then 1 else 0 end) as has_time_of_day_prices
    from prices
    group by provider_id, model_id
),

final as (
    select
        {{ row_key(['model_facts.provider_id', 'model_facts.model_id']) }} as model_key,
        model_facts.provider_id,
        providers.provider_name,
        model_facts.model_id,
        current_prices.price_set_id as current_price_set_id,
        cast(current_prices.input_usd_per_million as decimal(24, 12)) as input_usd_per_million,
        cast(current_prices.output_usd_per_million as decimal(24, 12)) as output_usd_per_million,
        cast(current_prices.cache_read_usd_per_million as decimal(24, 12))
            as cache_read_usd_per_million,
        cast(current_prices.cache_write_usd_per_million as decimal(24, 12))
            as cache_write_usd_per_million,
        cast(current_prices.reasoning_usd_per_million as decimal(24, 12))
            as reasoning_usd_per_million,
        model_facts.price_sets,
        model_facts.has_long_context_tiers = 1 as has_long_context_tiers,
        model_facts.has_time_of_day_prices = 1 as has_time_of_day_prices
    from model_facts
    inner join providers on model_facts.provider_id = providers.provider_id
    left join current_prices
        on model_facts.provider_id = current_prices.provider_id
        and model_facts.model_id = current_prices.model_id
)

select * from final
