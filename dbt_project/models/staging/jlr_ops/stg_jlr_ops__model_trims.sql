with source as (
    select * from {{ source('jlr_ops', 'model_trims') }}
),

renamed as (
    select
        trim_id,
        model_id,
        trim_name,
        powertrain,
        engine_cc,
        power_kw,
        list_price as list_price_gbp,
        updated_at,
        _loaded_at
    from source
)

select * from renamed
