{#- Where PostgreSQL (the local target) and Redshift differ, one macro with a version for each,
    chosen by adapter.dispatch. Models call the generic name only. -#}

{#- A text value of a JSON document's top-level key (JSONB locally, SUPER on Redshift). -#}
{% macro json_get_text(column, key) -%}
    {{ return(adapter.dispatch('json_get_text', 'jlr_analytics')(column, key)) }}
{%- endmacro %}

{% macro postgres__json_get_text(column, key) -%}
    ({{ column }} ->> '{{ key }}')
{%- endmacro %}

{% macro redshift__json_get_text(column, key) -%}
    json_extract_path_text(json_serialize({{ column }}), '{{ key }}', true)
{%- endmacro %}

{#- True when the text matches a POSIX regular expression. -#}
{% macro regex_matches(column, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'jlr_analytics')(column, pattern)) }}
{%- endmacro %}

{% macro postgres__regex_matches(column, pattern) -%}
    ({{ column }} ~ '{{ pattern }}')
{%- endmacro %}

{% macro redshift__regex_matches(column, pattern) -%}
    (regexp_count({{ column }}, '{{ pattern }}') > 0)
{%- endmacro %}

{#- ISO day of the week: Monday 1 .. Sunday 7. -#}
{% macro day_of_week_iso(date_column) -%}
    {{ return(adapter.dispatch('day_of_week_iso', 'jlr_analytics')(date_column)) }}
{%- endmacro %}

{% macro postgres__day_of_week_iso(date_column) -%}
    cast(extract(isodow from {{ date_column }}) as smallint)
{%- endmacro %}

{% macro redshift__day_of_week_iso(date_column) -%}
    cast(case when date_part(dow, {{ date_column }}) = 0 then 7
        else date_part(dow, {{ date_column }}) end as smallint)
{%- endmacro %}

{#- True when the column's value is among those a subquery returns. PostgreSQL runs an array of
    them once and pushes `= any(...)` into views as an index condition (a plain IN would be a
    join, planned after the view is read whole); elsewhere, IN. -#}
{% macro matches_any_of(column, subquery) -%}
    {{ return(adapter.dispatch('matches_any_of', 'jlr_analytics')(column, subquery)) }}
{%- endmacro %}

{% macro postgres__matches_any_of(column, subquery) -%}
    {{ column }} = any(array({{ subquery }}))
{%- endmacro %}

{% macro default__matches_any_of(column, subquery) -%}
    {{ column }} in ({{ subquery }})
{%- endmacro %}

{#- dbt-redshift dispatches to postgres__ before default__: Redshift has no arrays of rows. -#}
{% macro redshift__matches_any_of(column, subquery) -%}
    {{ return(default__matches_any_of(column, subquery)) }}
{%- endmacro %}
