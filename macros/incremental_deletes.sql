{#- Pre-hooks of the incremental marts: before a run merges what changed, remove from the mart
    every key that changed in staging or was deleted from it since the mart's last run (the run
    then inserts the live changed rows again), so that an incremental run honours soft and hard
    deletes like a full one while reading only what changed: the changed rows through staging's
    _loaded_at index, the deleted keys from int_staging_deletions (the load job records them).

    `last_changed_at` is the mart's own change column; rows of staging are compared on
    `changed_at`. Render nothing on a full build. -#}
{% macro delete_changed_and_deleted_keys(key, key_type, upstream, table_name,
        changed_at='_loaded_at', last_changed_at='_loaded_at', source_name='jlr_ops') -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where {{ key }} in (
        select upstream.{{ key }}
        from {{ upstream }} as upstream
        where upstream.{{ changed_at }} > {{ last_change(last_changed_at) }}
        union all
        select cast(deletions.key_value as {{ key_type }})
        {{ staging_deletions_since(source_name, table_name, false, last_change(last_changed_at)) }}
    )
    {%- endif -%}
{%- endmacro %}


{#- After a full batch replaced the staging table, any key may have gone without a tombstone:
    only then compare every key of the mart with staging (`where` narrows staging's rows, e.g. to
    the live ones). Renders nothing on a full build; reads nothing when no replacement happened
    since the mart's last run. -#}
{% macro delete_keys_missing_after_replacement(key, upstream, table_name, where=none,
        last_changed_at='_loaded_at', source_name='jlr_ops') -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where
        exists (
            select 1
            {{ staging_deletions_since(source_name, table_name, true,
                last_change(last_changed_at)) }}
        )
        and not exists (
            select 1 from {{ upstream }} as upstream
            where upstream.{{ key }} = {{ this }}.{{ key }}
            {%- if where %} and {{ where }}{% endif %}
        )
    {%- endif -%}
{%- endmacro %}


{#- `from ... where ...` over what the staging table lost after `since` (SQL; at or after it when
    `inclusive`): its deleted keys, or (`replaced`) the full batches that replaced it. -#}
{% macro staging_deletions_since(source_name, table_name, replaced, since, inclusive=false) -%}
    from {{ ref('int_staging_deletions') }} as deletions
    where
        deletions.source_name = '{{ source_name }}'
        and deletions.table_name = '{{ table_name }}'
        and {{ '' if replaced else 'not ' }}deletions.is_table_replaced
        and deletions.deleted_at {{ '>=' if inclusive else '>' }} {{ since }}
{%- endmacro %}


{#- Whether a full batch replaced the staging table after `since` (SQL; at or after it when
    `inclusive`): then any key may have gone without a tombstone. Asks the database. -#}
{% macro staging_replaced_after(table_name, since, inclusive=false, source_name='jlr_ops') -%}
    {%- set replaced -%}
        select count(*)
        {{ staging_deletions_since(source_name, table_name, true, since, inclusive) }}
    {%- endset -%}
    {%- do return(run_query(replaced).columns[0][0] > 0) -%}
{%- endmacro %}


{#- On an incremental run, whether a full batch replaced the staging table after the newest change
    the model holds (`last_changed_at`, its own column); false, without a query, otherwise (and
    under render_incremental, which renders the ordinary case). -#}
{% macro staging_replaced_since_last_run(table_name, last_changed_at='_loaded_at',
        source_name='jlr_ops') -%}
    {%- if not is_incremental() or renders_later_run() -%}
        {%- do return(false) -%}
    {%- endif -%}
    {%- do return(staging_replaced_after(table_name, last_change(last_changed_at),
        source_name=source_name)) -%}
{%- endmacro %}


{#- Pre-hook of fct_vehicle_sales: remove the orders whose pairs changed after the newest change
    the mart holds (int_sales_order_vehicles records every way an order changes or goes). -#}
{% macro delete_orders_changed_since_last_run(last_changed_at='_loaded_at') -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where {{ matches_any_of('order_id',
        'select touched.order_id from ' ~ ref('int_sales_order_vehicles') ~ ' as touched'
        ~ ' where touched._changed_at > ' ~ last_change(last_changed_at)) }}
    {%- endif -%}
{%- endmacro %}
