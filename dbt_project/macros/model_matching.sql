{#- How a model name as sent meets the catalogue's match rules (seeds/model_match_rules.csv):
    read twice by int_model_refs_resolved, for providers and for models. -#}

{#- Does a catalogue match clause (equals, starts_with, ends_with, contains, regex, not_regex) hold? -#}
{% macro clause_matches(clause_type, clause_value, text) -%}
    case {{ clause_type }}
        when 'equals' then {{ text }} = {{ clause_value }}
        when 'starts_with' then substring({{ text }}, 1, length({{ clause_value }})) = {{ clause_value }}
        when 'ends_with' then length({{ text }}) >= length({{ clause_value }})
            and substring({{ text }}, length({{ text }}) - length({{ clause_value }}) + 1) = {{ clause_value }}
        when 'contains' then {{ dbt.position(clause_value, text) }} > 0
        when 'regex' then {{ regex_search(text, clause_value) }}
        when 'not_regex' then not {{ regex_search(text, clause_value) }}
        else false
    end
{%- endmacro %}
