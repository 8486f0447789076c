with source as (
    select * from {{ source('jlr_ops', 'customers') }}
),

renamed as (
    select
        customer_id,
        first_name,
        last_name,
        -- hashed in the curate job (salted SHA-256) after trimming and lowercasing
        email as email_hash,
        phone as phone_hash,
        birth_date,
        country_code,
        marketing_opt_in as has_marketing_opt_in,
        created_at,
        updated_at,
        deleted_at,
        deleted_at is not null as is_deleted,
        _loaded_at
    from source
)

select * from renamed
