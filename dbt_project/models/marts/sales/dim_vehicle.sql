{{
    config(
        materialized='incremental',
        unique_key='vin',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=["{{ delete_rows_missing_from('vin', ref('int_vehicles_described')) }}"],
    )
}}

with vehicles as (
    select * from {{ ref('int_vehicles_described') }}
),

deliveries as (
    select * from {{ ref('int_vehicle_deliveries') }}
),

described as (
    select
        vehicles.vin,
        vehicles.model_id,
        vehicles.trim_id,
        vehicles.brand,
        vehicles.model_name,
        vehicles.trim_name,
        vehicles.powertrain,
        vehicles.model_year,
        vehicles.exterior_colour,
        vehicles.plant_id,
        vehicles.plant_name,
        vehicles.built_on,
        deliveries.in_service_on,
        deliveries.in_service_on is not null as is_in_service,
        vehicles.option_pack,
        vehicles.wheel_size_in,
        vehicles.has_towing_pack,
        -- the vehicle row or one of its orders changed at this time: drives the incremental runs
        case
            when deliveries.last_order_loaded_at > vehicles._loaded_at
                then deliveries.last_order_loaded_at
            else vehicles._loaded_at
        end as _changed_at
    from vehicles
    left join deliveries on vehicles.vin = deliveries.vin
),

final as (
    select * from described
    {{ changed_since_last_run('described._changed_at') }}
)

select * from final
