{#- Why cost moved between a base period and a current one (docs/insights.md#explain): for
    each segment of `segments` — a relation with base_units, base_cost_usd, current_units and
    current_cost_usd — its status and its parts of the change. Over the segments with units in
    both periods (status both), with q the units, c the cost, Q = Σq and p = c / q:

        volume = (Q₁ − Q₀) · c₀ / Q₀              (Σ: (Q₁ − Q₀) · P̄₀)
        mix    = q₁ · p₀ − Q₁ · c₀ / Q₀           (Σ: Q₁ · Σ (s₁ − s₀) · p₀)
        price  = (c₁ − c₀) − volume − mix        (Σ: Σ q₁ · (p₁ − p₀))

    A segment only in the current period is all `new`, only in the base all `discontinued`
    (minus its cost); one without units in either (never in the marts) is all price. Volume and
    mix are worked out in DOUBLE and kept to 12 decimals; price is what is left, in DECIMAL, so
    each segment's parts sum exactly to its change. `partition_by`: the columns that tell one
    explanation from another (none: the whole relation is one).

    The API runs this macro as it is (api/insights/service.py), and fct_monthly_cost_explanations
    builds from it: it uses plain SQL and Jinja only, nothing of dbt's. -#}
{% macro explain_components(segments, partition_by=[]) -%}
    {%- set over = 'over (partition by ' ~ (partition_by | join(', ')) ~ ')' if partition_by else 'over ()' -%}
    select
        *,
        cast(case when status in ('both', 'none') then change_usd - volume_usd - mix_usd else 0 end
            as decimal(38, 18)) as price_usd,
        cast(case when status = 'new' then change_usd else 0 end as decimal(38, 18)) as new_usd,
        cast(case when status = 'discontinued' then change_usd else 0 end as decimal(38, 18))
            as discontinued_usd
    from (
        select
            *,
            cast(case
                when status = 'both'
                    then cast(both_current_units - both_base_units as double)
                    * cast(base_cost_usd as double) / cast(both_base_units as double)
                else 0
            end as decimal(30, 12)) as volume_usd,
            cast(case
                when status = 'both'
                    then cast(current_units as double) * cast(base_cost_usd as double)
                    / cast(base_units as double)
                    - cast(both_current_units as double) * cast(base_cost_usd as double)
                    / cast(both_base_units as double)
                else 0
            end as decimal(30, 12)) as mix_usd
        from (
            select
                *,
                sum(case when status = 'both' then base_units end) {{ over }} as both_base_units,
                sum(case when status = 'both' then current_units end) {{ over }} as both_current_units
            from (
                select
                    *,
                    case
                        when base_units > 0 and current_units > 0 then 'both'
                        when current_units > 0 then 'new'
                        when base_units > 0 then 'discontinued'
                        else 'none'
                    end as status,
                    cast(cast(current_cost_usd as decimal(30, 18)) - cast(base_cost_usd as decimal(30, 18))
                        as decimal(31, 18)) as change_usd
                from {{ segments }}
            ) as with_status
        ) as with_totals
    ) as with_parts
{%- endmacro %}
