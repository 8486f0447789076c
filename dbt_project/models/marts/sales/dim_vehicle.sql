with vehicles as (
    select * from {{ ref('int_vehicles_in_service') }}
),

final as (
    select
        vin,
        model_id,
        trim_id,
        brand,
        model_name,
        trim_name,
        powertrain,
        model_year,
        exterior_colour,
        plant_id,
        plant_name,
        built_on,
        in_service_on,
        in_service_on is not null as is_in_service,
        option_pack,
        wheel_size_in,
        has_towing_pack
    from vehicles
)

select * from final
