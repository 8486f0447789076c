{{ config(materialized='table') }}

with orders as (
    select * from {{ ref('int_sales_orders_resolved') }}
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
