{{ config(materialized='table') }}

-- every order in staging, soft-deleted ones included: a deletion changes the vehicle too
with orders as (
    select * from {{ ref('stg_jlr_ops__sales_orders') }}
),

deliveries as (
    -- a vehicle enters service when it is first delivered to a customer (on a live order)
    select
        vin,
        min(
            case when order_status = 'delivered' and not is_deleted then delivered_on end
        ) as in_service_on,
        max(_loaded_at) as last_order_loaded_at
    from orders
    group by vin
)

select * from deliveries
