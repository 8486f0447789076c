{#- A snapshot reads only the source rows that changed after the newest change it holds (its
    `column`, carried from staging's _loaded_at). The watermark is read first and written as a
    literal, so the planner sees how few rows pass it (under render_incremental, where nothing
    is read, a subquery). Renders nothing on the first run or on --full-refresh, which compare
    every source row as dbt's snapshot does, nor when the warehouse may not be read. -#}
{% macro snapshot_changed_since_last_run(column) -%}
    {%- if execute and renders_later_run() -%}
        where {{ column }} > {{ last_change(column) }}
    {%- elif not flags.FULL_REFRESH and reads_warehouse() and load_relation(this) is not none -%}
        {%- set newest = run_query('select max(' ~ column ~ ') from ' ~ this).columns[0][0] -%}
        {%- if newest is not none -%}
            where {{ column }} > cast('{{ newest.isoformat() }}' as timestamptz)
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- Pre-hook of a snapshot that reads only changed rows: close (dbt_valid_to = the snapshot time)
    the current version of every key that left `upstream`, as hard_deletes: invalidate does.
    `replaced` false: the keys the load job deleted from staging since the snapshot's newest
    change, looked up by key; true: every key, but only after a full batch replaced the staging
    table since (on --full-refresh: always). A key back in `upstream` stays open. -#}
{% macro close_versions_of_deleted_keys(key, key_type, upstream, table_name, replaced,
        last_changed_at='_loaded_at', source_name='jlr_ops') -%}
    {%- if execute and load_relation(this) is not none
        and (replaced or not flags.FULL_REFRESH) -%}
    {%- set deleted_keys -%}
        select cast(deletions.key_value as {{ key_type }})
        {{ staging_deletions_since(source_name, table_name, false, last_change(last_changed_at)) }}
    {%- endset -%}
    update {{ this }}
    set dbt_valid_to = {{ snapshot_get_time() }}
    where
        dbt_valid_to is null
        {%- if not replaced %}
        and {{ matches_any_of(key, deleted_keys) }}
        {%- elif not flags.FULL_REFRESH %}
        and exists (
            select 1
            {{ staging_deletions_since(source_name, table_name, true,
                last_change(last_changed_at)) }}
        )
        {%- endif %}
        and not exists (
            select 1 from {{ upstream }} as upstream
            where
                upstream.{{ key }} = {{ this }}.{{ key }}
                {%- if not replaced %}
                and {{ matches_any_of('upstream.' ~ key, deleted_keys) }}
                {%- endif %}
        )
    {%- endif -%}
{%- endmacro %}
