with vehicles as (
    select * from {{ ref('stg_jlr_ops__vehicles') }}
),

trims as (
    select * from {{ ref('stg_jlr_ops__model_trims') }}
),

models as (
    select * from {{ ref('stg_jlr_ops__vehicle_models') }}
),

plants as (
    select * from {{ ref('stg_jlr_ops__plants') }}
),

described as (
    select
        vehicles.vin,
        vehicles.trim_id,
        trims.model_id,
        models.brand,
        models.model_name,
        trims.trim_name,
        trims.powertrain,
        vehicles.model_year,
        vehicles.exterior_colour,
        vehicles.plant_id,
        plants.plant_name,
        vehicles.built_on,
        cast({{ json_get_text('vehicles.options_json', 'pack') }} as varchar(40)) as option_pack,
        cast({{ json_get_text('vehicles.options_json', 'wheels_in') }} as smallint)
            as wheel_size_in,
        {{ json_get_text('vehicles.options_json', 'towing') }} = 'true' as has_towing_pack,
        vehicles._loaded_at
    from vehicles
    inner join trims on vehicles.trim_id = trims.trim_id
    inner join models on trims.model_id = models.model_id
    inner join plants on vehicles.plant_id = plants.plant_id
)

select * from described
