-- Resolve each (provider, model) pair that events name to a catalogue provider and model,
-- the way the catalogue does: the provider by id, then by its aliases (or, with no provider
-- given, by the model name); then the provider's models in order, then its fallbacks.
with events as (
    select * from {{ ref('stg_tallyhouse__usage_events') }}
),

rules as (
    select * from {{ ref('stg_genai_prices__match_rules') }}
),

fallbacks as (
    select * from {{ ref('stg_genai_prices__provider_fallbacks') }}
),

refs as (
    select distinct
        provider_ref,
        model_ref,
        lower(trim(provider_ref)) as provider_key,
        lower(model_ref) as model_key
    from events
    where model_ref is not null
),

provider_rule_groups as (
    select
        refs.provider_ref,
        refs.model_ref,
        rules.provider_id,
        case rules.subject when 'provider_id' then 0 when 'provider_alias' then 1 else 2 end
            as pass,
        rules.match_order,
        rules.rule_group,
        max(rules.group_size) as group_size,
        sum(case when {{ clause_matches(
            'rules.clause_type', 'rules.clause_value',
            "case when rules.subject = 'provider_model' then refs.model_key else refs.provider_key end"
        ) }} then 1 else 0 end) as clauses_matched
    from refs
    inner join rules
        on (refs.provider_key is not null and rules.subject in ('provider_id', 'provider_alias'))
        or (refs.provider_key is null and rules.subject = 'provider_model')
    group by 1, 2, 3, 4, 5, 6
),

providers_ranked as (
    select
        provider_ref,
        model_ref,
        provider_id,
        row_number() over (
            partition by provider_ref, model_ref order by pass, match_order, provider_id
        ) as provider_rank
    from provider_rule_groups
    where clauses_matched = group_size
),

resolved_providers as (
    select
        provider_ref,
        model_ref,
        provider_id
    from providers_ranked
    where provider_rank = 1
),

candidate_providers as (
    select
        provider_ref,
        model_ref,
        provider_id,
        provider_id as model_provider_id,
        0 as fallback_rank
    from resolved_providers
    union all
    select
        resolved_providers.provider_ref,
        resolved_providers.model_ref,
        resolved_providers.provider_id,
        fallbacks.fallback_provider_id as model_provider_id,
        fallbacks.fallback_rank
    from resolved_providers
    inner join fallbacks on resolved_providers.provider_id = fallbacks.provider_id
),

model_rule_groups as (
    select
        candidates.provider_ref,
        candidates.model_ref,
        candidates.provider_id,
        candidates.model_provider_id,
        candidates.fallback_rank,
        rules.model_id,
        rules.match_order,
        rules.rule_group,
        max(rules.group_size) as group_size,
        sum(case when {{ clause_matches(
            'rules.clause_type', 'rules.clause_value', 'lower(candidates.model_ref)'
        ) }} then 1 else 0 end) as clauses_matched
    from candidate_providers as candidates
    inner join rules
        on rules.subject = 'model'
        and candidates.model_provider_id = rules.provider_id
    group by 1, 2, 3, 4, 5, 6, 7, 8
),

models_ranked as (
    select
        provider_ref,
        model_ref,
        provider_id,
        model_provider_id,
        model_id,
        row_number() over (
            partition by provider_ref, model_ref order by fallback_rank, match_order
        ) as model_rank
    from model_rule_groups
    where clauses_matched = group_size
),

final as (
    select
        {{ row_key(['refs.provider_ref', 'refs.model_ref']) }} as model_ref_id,
        refs.provider_ref,
        refs.model_ref,
        coalesce(models.provider_id, resolved_providers.provider_id) as provider_id,
        -- the provider whose price list holds the model (Azure lends OpenAI's)
        models.model_provider_id as price_provider_id,
        models.model_id
    from refs
    left join resolved_providers
        on refs.model_ref = resolved_providers.model_ref
        and coalesce(refs.provider_ref, '~null~') = coalesce(resolved_providers.provider_ref, '~null~')
    left join models_ranked as models
        on refs.model_ref = models.model_ref
        and coalesce(refs.provider_ref, '~null~') = coalesce(models.provider_ref, '~null~')
        and models.model_rank = 1
)

select * from final
