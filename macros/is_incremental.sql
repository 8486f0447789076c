{#- dbt's is_incremental(), asking the warehouse only when the answer depends on it and dbt may
    read it. It answers false without a query with --full-refresh, outside execution, and in a
    `dbt compile --no-populate-cache` (told not to read the warehouse's catalog, the project does
    not ask it either), so `dbt compile --target redshift --no-populate-cache` renders a first
    run with no Redshift anywhere.

    `dbt compile --vars '{render_incremental: true}'` renders every incremental model and
    snapshot as each later run sends it (as if it existed and no full batch had replaced staging
    since), also without a connection: a test parses that SQL with sqlfluff's Redshift dialect.
    Only `dbt compile` takes it. -#}
{% macro is_incremental() %}
    {%- if not execute or model.config.materialized != 'incremental' -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if renders_later_run() -%}
        {{ return(true) }}
    {%- endif -%}
    {%- if should_full_refresh() or not reads_warehouse() -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{% endmacro %}


{#- Whether this invocation may query the warehouse while rendering: not a `dbt compile` given
    --no-populate-cache. -#}
{% macro reads_warehouse() %}
    {{ return(execute and not (flags.WHICH == 'compile' and not flags.POPULATE_CACHE)) }}
{% endmacro %}


{#- var render_incremental (dbt compile only): render what a later run sends. -#}
{% macro renders_later_run() %}
    {%- if not var('render_incremental', false) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if flags.WHICH != 'compile' -%}
        {%- do exceptions.raise_compiler_error(
            "var render_incremental is for dbt compile only (it skips the check that the"
            ~ " model exists)") -%}
    {%- endif -%}
    {{ return(true) }}
{% endmacro %}
