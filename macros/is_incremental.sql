{#- dbt's is_incremental(), asking the database only when the answer depends on it: with
    --full-refresh (or outside execution) it answers false without a query, so
    `dbt compile --target redshift --full-refresh --no-populate-cache` needs no connection. -#}
{% macro is_incremental() %}
    {%- if not execute or should_full_refresh() or model.config.materialized != 'incremental' -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{% endmacro %}
