with source as (
    select * from {{ source('jlr_ops', 'vehicle_models') }}
),

renamed as (
    select
        model_id,
        brand,
        model_name,
        body_style,
        launch_year,
        is_electric,
        updated_at,
        _loaded_at
    from source
)

select * from renamed
