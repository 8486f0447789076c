with source as (
    select * from {{ source('jlr_ops', 'vehicles') }}
),

renamed as (
    select
        vin,
        trim_id,
        plant_id,
        model_year,
        exterior_colour,
        build_date as built_on,
        options as options_json,
        updated_at,
        _loaded_at
    from source
)

select * from renamed
