with source as (
    select * from {{ source('jlr_ops', 'dealers') }}
),

renamed as (
    select
        dealer_id,
        dealer_code,
        cast(trim(dealer_name) as varchar(480)) as dealer_name,
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
