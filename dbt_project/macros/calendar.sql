{#- The whole numbers 0 – 9,999 as `day_offset`: the days of a calendar (about 27 years) from
    its first day. -#}
{% macro day_offsets() -%}
    select a.digit + b.digit * 10 + c.digit * 100 + d.digit * 1000 as day_offset
    from ({{ digits() }}) as a
    cross join ({{ digits() }}) as b
    cross join ({{ digits() }}) as c
    cross join ({{ digits() }}) as d
{%- endmacro %}

{% macro digits() -%}
    {% for digit in range(10) %}select {{ digit }} as digit{% if not loop.last %} union all {% endif %}{% endfor %}
{%- endmacro %}

{#- The whole numbers first – last as `week`: how many weeks back a same weekday lies. -#}
{% macro week_numbers(first, last) -%}
    {% for week in range(first, last + 1) %}select {{ week }} as week{% if not loop.last %} union all {% endif %}{% endfor %}
{%- endmacro %}
