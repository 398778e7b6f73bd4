with source as (
    select * from {{ ref('providers') }}
),

final as (
    select
        provider_id,
        provider_name,
        provider_order
    from source
)

select * from final
