{{ config(materialized='table') }}

-- staging's live orders: what int_sales_orders_resolved holds, without its joins
with orders as (
    select * from {{ ref('stg_jlr_ops__sales_orders') }}
    where not is_deleted
),

deliveries as (
    -- a vehicle enters service when it is first delivered to a customer
    select
        vin,
        min(case when order_status = 'delivered' then delivered_on end) as in_service_on,
        max(_loaded_at) as last_order_loaded_at
    from orders
    group by vin
)

select * from deliveries
