with source as (
    select * from {{ source('jlr_ops', 'plants') }}
),

renamed as (
    select
        plant_id,
        plant_code,
        plant_name,
        country_code,
        opened_year,
        annual_capacity,
        updated_at,
        _loaded_at
    from source
)

select * from renamed
