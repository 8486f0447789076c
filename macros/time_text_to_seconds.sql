{#- MySQL TIME as text ('[-]HHH:MM:SS[.ffffff]', up to ±838h) to seconds, on any adapter. -#}
{% macro time_text_to_seconds(column) -%}
    {%- set unsigned = "ltrim(" ~ column ~ ", '-')" -%}
    (case when {{ column }} like '-%' then -1 else 1 end) * (
        cast({{ dbt.split_part(unsigned, "':'", 1) }} as integer) * 3600
        + cast({{ dbt.split_part(unsigned, "':'", 2) }} as integer) * 60
        + cast({{ dbt.split_part(unsigned, "':'", 3) }} as numeric(9, 6))
    )
{%- endmacro %}
