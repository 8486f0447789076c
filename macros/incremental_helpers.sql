{#- The newest change the model holds: rows changed strictly later are new to it (a load commits
    its rows with one _loaded_at, and the model only ever saw committed loads). A model holding
    no row has seen nothing: every row is new to it. That happens when a pre-hook removed every
    row because all of them changed (staging reloaded in full, e.g. after `make seed`); a bare
    max() would then be null, and a comparison with null would bring back nothing, ever. -#}
{% macro last_change(column) -%}
    coalesce(
        (select max(existing.{{ column }}) from {{ this }} as existing),
        cast('1900-01-01' as {{ dbt.type_timestamp() }})
    )
{%- endmacro %}

{#- On an incremental run, keep only the rows changed after the newest change the model holds, in
    a column of the same name. Renders nothing on a full build. -#}
{% macro changed_since_last_run(column) -%}
    {%- if is_incremental() -%}
        where {{ column }} > {{ last_change(column) }}
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

{#- The first day of a date's month, as a date. The date is truncated as a timestamp without time
    zone: PostgreSQL would otherwise take date_trunc's timestamptz form, which converts every
    row through the session's time zone (a tenth of the time of a monthly mart's aggregate). -#}
{% macro first_day_of_month(date_column) -%}
    {%- set as_timestamp = 'cast(' ~ date_column ~ ' as ' ~ dbt.type_timestamp() ~ ')' -%}
    cast({{ dbt.date_trunc('month', as_timestamp) }} as date)
{%- endmacro %}
