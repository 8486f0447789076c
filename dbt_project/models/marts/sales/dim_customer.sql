with versions as (
    select * from {{ ref('snap_customers') }}
),

known_versions as (
    select
        cast(dbt_scd_id as varchar(32)) as customer_version_key,
        customer_id,
        email_hash,
        phone_hash,
        birth_year,
        country_code,
        has_marketing_opt_in,
        is_deleted,
        created_at,
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to,
        dbt_valid_to is null as is_current,
        false as is_unknown_member
    from versions
),

unknown_customer as (
    select
        cast('-1' as varchar(32)) as customer_version_key,
        cast(-1 as bigint) as customer_id,
        cast(null as {{ dbt.type_string() }}) as email_hash,
        cast(null as {{ dbt.type_string() }}) as phone_hash,
        cast(null as smallint) as birth_year,
        cast(null as {{ dbt.type_string() }}) as country_code,
        false as has_marketing_opt_in,
        false as is_deleted,
        cast(null as {{ dbt.type_timestamp() }}) as created_at,
        cast('1900-01-01' as {{ dbt.type_timestamp() }}) as valid_from,
        cast(null as {{ dbt.type_timestamp() }}) as valid_to,
        true as is_current,
        true as is_unknown_member
),

final as (
    select * from known_versions
    union all
    select * from unknown_customer
)

select * from final
