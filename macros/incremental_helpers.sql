{#- On an incremental run, keep only the rows whose change time is later than the newest one
    the model already holds (strictly later: a load commits its rows with one _loaded_at, and the
    model only ever saw committed loads). `this_column` names the model's own change column when
    it differs from the input's. Renders nothing on a full build. -#}
{% macro changed_since_last_run(column, this_column=none) -%}
    {%- if is_incremental() -%}
        where {{ column }} > {{ last_change(this_column or column.split('.')[-1]) }}
    {%- endif -%}
{%- endmacro %}

{#- The text key of a monthly mart row: '<id>|<month start>', e.g. '42|2025-03-01'. -#}
{% macro month_key(id_column, month_column) -%}
    cast(
        {{ dbt.concat(["cast(" ~ id_column ~ " as " ~ dbt.type_string() ~ ")", "'|'",
            "cast(" ~ month_column ~ " as " ~ dbt.type_string() ~ ")"]) }}
        as varchar(40)
    )
{%- endmacro %}
