{#- Twice the median of `column` over the rows of a group ranked by it (`position` 1 – n,
    `week_count` n): the middle value counted twice, or the two middle values. -#}
{% macro median_sum(column) -%}
    sum(case
        when 2 * position = week_count + 1 then {{ column }} * 2
        when 2 * position in (week_count, week_count + 2) then {{ column }}
        else 0
    end)
{%- endmacro %}
