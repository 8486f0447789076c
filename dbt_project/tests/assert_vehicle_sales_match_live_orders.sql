-- The incremental fact must hold exactly the live orders: none missing, none deleted left behind.
with orders as (
    select order_id from {{ ref('stg_jlr_ops__sales_orders') }}
    where not is_deleted
),

sales as (
    select order_id from {{ ref('fct_vehicle_sales') }}
),

compared as (
    select
        coalesce(orders.order_id, sales.order_id) as order_id,
        case
            when sales.order_id is null then 'missing from fct_vehicle_sales'
            else 'no longer a live order'
        end as problem
    from orders
    full outer join sales on orders.order_id = sales.order_id
    where orders.order_id is null or sales.order_id is null
)

select * from compared
