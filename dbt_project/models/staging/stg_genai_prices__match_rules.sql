with source as (
    select * from {{ ref('model_match_rules') }}
),

final as (
    select
        {{ row_key(['subject', 'provider_id', 'model_id', 'rule_group', 'clause_index']) }}
            as match_rule_id,
        subject,
        provider_id,
        model_id,
        match_order,
        rule_group,
        clause_index,
        group_size,
        clause_type,
        clause_value
    from source
)

select * from final
