-- Each price with the range of request input it applies to: (its tier's start, the next
-- tier's start]; the first tier also takes requests without a token count. The tiers of a
-- price set's usage type are disjoint, so a component matches exactly one: a plain join.
with prices as (
    select * from {{ ref('stg_genai_prices__model_prices') }}
),

final as (
    select
        price_id,
        price_set_id,
        provider_id,
        model_id,
        price_set_index,
        usage_type,
        tier_start_input_tokens,
        lead(tier_start_input_tokens) over (
            partition by provider_id, model_id, price_set_index, usage_type
            order by tier_start_input_tokens
        ) as tier_end_input_tokens,
        usd_per_unit
    from prices
)

select * from final
