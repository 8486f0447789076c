with source as (
    select * from {{ source('jlr_ops', 'parts') }}
),

renamed as (
    select
        part_id,
        part_number,
        description as part_description,
        category as part_category,
        unit_cost as unit_cost_gbp,
        weight_kg,
        hazard_flags,
        hazard_flags <> 0 as is_hazardous,
        is_serviceable,
        updated_at,
        _loaded_at
    from source
)

select * from renamed
