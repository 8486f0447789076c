with source as (
    select * from {{ source('jlr_ops', 'dealers') }}
),

renamed as (
    select
        dealer_id,
        dealer_code,
        trim(dealer_name) as dealer_name,
        country_code,
        region,
        city,
        opened_on,
        is_active,
        customer_rating,
        updated_at,
        _loaded_at
    from source
)

select * from renamed
