{#- Views on PostgreSQL: replaced only when their definition changed.

    dbt's view materialization replaces every view on every run: create it under a temporary
    name, rename the old one away, rename the new one in, drop the old one with cascade (which
    drops the views that depend on it; dbt rebuilds them after). On PostgreSQL two threads doing
    that to views with a common dependant deadlock, so the replacement takes a session lock and
    view DDL runs one at a time.

    Here a build first compiles the model into a temporary view and asks PostgreSQL whether its
    stored definition (pg_get_viewdef, which also expands `select *` against today's columns)
    equals the existing view's. When it does, the temporary view is dropped and the existing one
    kept: one statement, no lock, and its dependants stay in place. Otherwise, and always on
    --full-refresh, the view is replaced as dbt does, under the lock. Hooks, grants and
    persisted docs apply either way.

    Only views take the lock: a table in the view folders (int_sales_order_vehicles) is built
    without holding them up, which is safe while no view selects from a table (dropping a
    table's previous version then drops no view; tests/dbt checks that none does).

    Redshift keeps dbt's own materialization: its late-binding views (bind: false) have no
    dependants, and a replacement there is cheap. -#}

{%- materialization view, adapter='postgres' -%}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set unchanged = false -%}
    {%- if existing_relation is not none and existing_relation.is_view
        and not should_full_refresh() -%}
        {%- set probe = adapter.quote(('dbt_probe_' ~ this.identifier)[:63]) -%}
        {%- call statement('main', fetch_result=True) -%}
            create temporary view {{ probe }} as (
                {{ sql }}
            );
            select pg_get_viewdef(to_regclass('pg_temp.{{ probe }}'))
                = pg_get_viewdef(to_regclass('{{ target_relation.include(database=false) }}'))
                as definition_unchanged
        {%- endcall -%}
        {%- set unchanged = load_result('main')['table'].columns[0][0] -%}
        {%- call statement('drop_probe') -%} drop view pg_temp.{{ probe }} {%- endcall -%}
    {%- endif -%}

    {%- if unchanged -%}
        {{ log('kept ' ~ target_relation ~ ': its definition is unchanged') }}
        {%- do apply_grants(target_relation, grant_config, should_revoke=true) -%}
        {%- do persist_docs(target_relation, model) -%}
        {{ run_hooks(post_hooks, inside_transaction=True) }}
        {{ adapter.commit() }}
    {%- else -%}
        {{ replace_view(target_relation, existing_relation, grant_config) }}
    {%- endif -%}

    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{%- endmaterialization -%}


{#- dbt's replacement (create under a temporary name, swap, drop the old view with cascade),
    one view at a time: a session advisory lock, released when the old view is gone (or with
    the connection if the build fails). Its `main` statement, the create, is the one dbt
    reports. -#}
{% macro replace_view(target_relation, existing_relation, grant_config) -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation,
        'view' if existing_relation is none else existing_relation.type) -%}
    {{ view_ddl_lock('lock') }}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
    {%- call statement('main') -%}
        {{ get_create_view_as_sql(intermediate_relation, sql) }}
    {%- endcall -%}
    {#- the existing view may have gone since (dropped with a view it depended on) -#}
    {%- set existing_relation = load_cached_relation(target_relation) -%}
    {%- if existing_relation is not none -%}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {%- endif -%}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}
    {%- do apply_grants(target_relation, grant_config,
        should_revoke=should_revoke(existing_relation, full_refresh_mode=True)) -%}
    {%- do persist_docs(target_relation, model) -%}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ view_ddl_lock('unlock') }}
{%- endmacro %}


{#- `action`: lock | unlock; a session lock, so it outlives the commit in between. -#}
{% macro view_ddl_lock(action) -%}
    {%- call statement('view_ddl_' ~ action) -%}
        select pg_advisory_{{ action }}(hashtext('jlr_analytics view ddl'))
    {%- endcall -%}
{%- endmacro %}
