with customers as (
    select * from {{ ref('stg_jlr_ops__customers') }}
),

pseudonymised as (
    -- names and the full birth date stay out of everything built on this model
    select
        customer_id,
        email_hash,
        phone_hash,
        cast(extract(year from birth_date) as smallint) as birth_year,
        country_code,
        has_marketing_opt_in,
        created_at,
        updated_at,
        is_deleted,
        _loaded_at
    from customers
)

select * from pseudonymised
