with source as (
    select * from {{ ref('provider_fallbacks') }}
),

final as (
    select
        provider_id,
        fallback_rank,
        fallback_provider_id
    from source
)

select * from final
