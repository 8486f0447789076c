with vehicles as (
    select * from {{ ref('int_vehicles_described') }}
),

orders as (
    select * from {{ ref('int_sales_orders_resolved') }}
),

first_deliveries as (
    -- a vehicle enters service when it is first delivered to a customer
    select
        vin,
        min(delivered_on) as in_service_on
    from orders
    where order_status = 'delivered' and delivered_on is not null
    group by vin
),

final as (
    select
        vehicles.*,
        first_deliveries.in_service_on
    from vehicles
    left join first_deliveries on vehicles.vin = first_deliveries.vin
)

select * from final
