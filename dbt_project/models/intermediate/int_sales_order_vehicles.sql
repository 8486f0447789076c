{{
    config(
        materialized='incremental',
        unique_key=['order_id', 'vin'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[
            {'columns': ['order_id', 'vin'], 'unique': true},
            {'columns': ['vin']},
            {'columns': ['_changed_at']},
        ],
        dist='vin',
        sort=['_changed_at'],
    )
}}

{#- Every (order, vehicle) pair staging has held. The order's current row is kept with what
    dim_vehicle aggregates (status, delivery); a pair the order left (it was hard-deleted, moved to
    another VIN, or was missing after a full batch replaced staging) stays, no longer current,
    because staging no longer says which vehicle the order had. _changed_at says when a pair
    last changed, so an incremental run downstream finds every vehicle whose orders changed. #}
{%- set since = last_change('_changed_at') -%}
{%- set replaced = staging_replaced_since_last_run('sales_orders', '_changed_at') -%}
{%- set replaced_at -%}
    (
        select max(deletions.deleted_at)
        {{ staging_deletions_since('jlr_ops', 'sales_orders', true, since) }}
    )
{%- endset -%}
-- depends_on: {{ ref('int_staging_deletions') }}

with orders as (
    select * from {{ ref('stg_jlr_ops__sales_orders') }}
    {%- if is_incremental() %}
        -- staging's _loaded_at index; a full batch reloads every order, so after a replacement
        -- this reads them all
        where _loaded_at > {{ since }}
    {%- endif %}
),

current_pairs as (
    select
        order_id,
        vin,
        true as is_current,
        order_status,
        delivered_on,
        is_deleted,
        _loaded_at as order_loaded_at,
        _loaded_at as _changed_at
    from orders
),

{%- if is_incremental() %}

deleted_orders as (
    select
        cast(deletions.key_value as numeric(20, 0)) as order_id,
        max(deletions.deleted_at) as deleted_at
    {{ staging_deletions_since('jlr_ops', 'sales_orders', false, since) }}
    group by 1
),

left_pairs as (
    -- the current pairs of changed or deleted orders that are no longer the order's pair
    select
        previous.order_id,
        previous.vin,
        false as is_current,
        previous.order_status,
        previous.delivered_on,
        previous.is_deleted,
        previous.order_loaded_at,
        coalesce(
            moved._loaded_at, deleted_orders.deleted_at{{ ', ' ~ replaced_at if replaced }}
        ) as _changed_at
    from {{ this }} as previous
    left join orders as moved on previous.order_id = moved.order_id
    left join deleted_orders on previous.order_id = deleted_orders.order_id
    where
        previous.is_current
        {%- if not replaced %}
            and {{ matches_any_of('previous.order_id',
                'select changed.order_id from orders as changed'
                ~ ' union all select gone.order_id from deleted_orders as gone') }}
        {%- endif %}
        and (
            moved.vin <> previous.vin
            or (moved.order_id is null and deleted_orders.order_id is not null)
            {%- if replaced %}
                or moved.order_id is null
            {%- endif %}
        )
),
{%- endif %}

pairs as (
    select * from current_pairs
    {%- if is_incremental() %}
        union all
        select * from left_pairs
    {%- endif %}
),

{%- set key_parts = ["cast(order_id as " ~ dbt.type_string() ~ ")", "'|'", "vin"] %}

final as (
    select
        {{ dbt.concat(key_parts) }} as order_vehicle_key,
        order_id,
        vin,
        is_current,
        order_status,
        delivered_on,
        is_deleted,
        order_loaded_at,
        _changed_at
    from pairs
)

select * from final
