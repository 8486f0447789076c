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
{%- if is_incremental() %}

    -- vehicles whose row or orders changed after the newest change this model holds: found
    -- from the two narrow inputs first (read here apart from the CTEs above, which PostgreSQL
    -- would otherwise materialise whole), so only those vehicles are described and joined
    changed as (
        select changed_vehicles.vin
        from {{ ref('int_vehicles_described') }} as changed_vehicles
        {{ changed_since_last_run('changed_vehicles._loaded_at', '_changed_at') }}
        union distinct
        select changed_deliveries.vin
        from {{ ref('int_vehicle_deliveries') }} as changed_deliveries
        {{ changed_since_last_run('changed_deliveries.last_order_loaded_at', '_changed_at') }}
    ),
{%- endif %}

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
    {%- if is_incremental() %}
        where vehicles.vin in (select changed.vin from changed)
    {%- endif %}
)

select * from described
