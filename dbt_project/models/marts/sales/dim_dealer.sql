with dealers as (
    select * from {{ ref('stg_jlr_ops__dealers') }}
),

known_dealers as (
    select
        dealer_id,
        dealer_code,
        dealer_name,
        country_code,
        region,
        city,
        opened_on,
        is_active,
        customer_rating,
        false as is_unknown_member
    from dealers
),

unknown_dealer as (
    select
        cast(-1 as bigint) as dealer_id,
        cast('UNKNOWN' as {{ dbt.type_string() }}) as dealer_code,
        cast('Unknown dealer' as {{ dbt.type_string() }}) as dealer_name,
        cast(null as {{ dbt.type_string() }}) as country_code,
        cast(null as {{ dbt.type_string() }}) as region,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as date) as opened_on,
        false as is_active,
        cast(null as real) as customer_rating,
        true as is_unknown_member
),

final as (
    select * from known_dealers
    union all
    select * from unknown_dealer
)

select * from final
