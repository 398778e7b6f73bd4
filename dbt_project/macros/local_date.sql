{#-
    The calendar date of a UTC instant (a TIMESTAMP holding UTC wall time) in an IANA time
    zone: the organization's day an event falls on (docs/timezones.md). Exact for any offset
    (+05:30, -03:30, +05:45) and on daylight-saving days.
-#}
{% macro local_date(instant, zone) -%}
    {{ return(adapter.dispatch('local_date', 'tallyhouse')(instant, zone)) }}
{%- endmacro %}

{% macro default__local_date(instant, zone) -%}
    case
        when {{ zone }} = 'UTC' then cast({{ instant }} as date)
        else cast(timezone({{ zone }}, timezone('UTC', {{ instant }})) as date)
    end
{%- endmacro %}

{% macro spark__local_date(instant, zone) -%}
    to_date(from_utc_timestamp({{ instant }}, {{ zone }}))
{%- endmacro %}
