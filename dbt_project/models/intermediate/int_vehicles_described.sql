with vehicles as (
    select * from {{ ref('stg_jlr_ops__vehicles') }}
),

trims as (
    select * from {{ ref('stg_jlr_ops__model_trims') }}
),

models as (
    select * from {{ ref('stg_jlr_ops__vehicle_models') }}
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
        vehicles.plant_id,
        vehicles.built_on
    from vehicles
    inner join trims on vehicles.trim_id = trims.trim_id
    inner join models on trims.model_id = models.model_id
)

select * from described
