-- The incremental fact must hold exactly the live orders: none missing, none deleted left behind.
-- Compared with the staging table itself, by primary key. An ordinary build compares the orders
-- that changed in staging or in the fact, or were deleted, since the last clean run; every order
-- once a full batch replaced staging since, with test_scope all, and on --full-refresh. The
-- compared orders are looked up by key (an array on PostgreSQL): right after a full refresh the
-- fact has no statistics yet, and a join would be planned as a hash of both whole tables.
-- depends_on: {{ ref('int_staging_deletions') }}
{%- set since = clean_run_start(literal=true) %}
{%- if since and staging_replaced_since('sales_orders', since) %}
    {%- set since = none %}
{%- endif %}
{%- set orders = source('jlr_ops', 'sales_orders') %}
{%- set sales = ref('fct_vehicle_sales') %}

with
{%- if since %}
    deleted_orders as (
        select cast(deletions.key_value as bigint) as order_id
        {{ staging_deletions_since('jlr_ops', 'sales_orders', false, since, inclusive=true) }}
    ),

    compared_orders as (
        select changed.order_id from {{ orders }} as changed
        where changed._loaded_at >= {{ since }}
        union all
        select rewritten.order_id from {{ sales }} as rewritten
        where rewritten._loaded_at >= {{ since }}
        union all
        select deleted_orders.order_id from deleted_orders
    ),
{%- endif %}

missing as (
    select
        orders.order_id,
        'missing from fct_vehicle_sales' as problem
    from {{ orders }} as orders
    where
        orders.deleted_at is null
        {%- if since %}
            and {{ matches_any_of('orders.order_id',
                'select compared_orders.order_id from compared_orders') }}
        {%- endif %}
        and not exists (
            select 1 from {{ sales }} as sales
            where sales.order_id = orders.order_id
        )
),

no_longer_live as (
    select
        sales.order_id,
        'no longer a live order' as problem
    from {{ sales }} as sales
    where
        {%- if since %}
            {{ matches_any_of('sales.order_id',
                'select compared_orders.order_id from compared_orders') }} and
        {%- endif %}
        not exists (
            select 1 from {{ orders }} as orders
            where orders.order_id = sales.order_id and orders.deleted_at is null
        )
),

final as (
    select * from missing
    union all
    select * from no_longer_live
)

select * from final
