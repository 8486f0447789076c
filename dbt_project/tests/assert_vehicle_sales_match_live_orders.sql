-- The incremental fact must hold exactly the live orders: none missing, none deleted left behind.
with orders as (
    select order_id from {{ ref('int_sales_orders_resolved') }}
),

sales as (
    select order_id from {{ ref('fct_vehicle_sales') }}
),

missing as (
    select
        order_id,
        'missing from fct_vehicle_sales' as problem
    from orders
    where orders.order_id not in (select sales.order_id from sales)
),

extra as (
    select
        order_id,
        'no longer a live order' as problem
    from sales
    where sales.order_id not in (select orders.order_id from orders)
)

select * from missing
union all
select * from extra
