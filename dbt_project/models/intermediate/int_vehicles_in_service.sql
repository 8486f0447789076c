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
        vehicles.vin,
        vehicles.trim_id,
        vehicles.model_id,
        vehicles.brand,
        vehicles.model_name,
        vehicles.trim_name,
        vehicles.powertrain,
        vehicles.model_year,
        vehicles.exterior_colour,
        vehicles.plant_id,
        vehicles.plant_name,
        vehicles.built_on,
        vehicles.option_pack,
        vehicles.wheel_size_in,
        vehicles.has_towing_pack,
        first_deliveries.in_service_on
    from vehicles
    left join first_deliveries on vehicles.vin = first_deliveries.vin
)

select * from final
