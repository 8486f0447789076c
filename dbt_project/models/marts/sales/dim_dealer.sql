with dealers as (
    select * from {{ ref('stg_jlr_ops__dealers') }}
),

regions as (
    select * from {{ ref('country_regions') }}
),

known_dealers as (
    select
        dealers.dealer_id,
        dealers.dealer_code,
        dealers.dealer_name,
        dealers.country_code,
        regions.sales_region,
        dealers.region,
        dealers.city,
        dealers.opened_on,
        dealers.is_active,
        dealers.customer_rating,
        false as is_unknown_member
    from dealers
    left join regions on dealers.country_code = regions.country_code
),

unknown_dealer as (
    select
        cast(-1 as bigint) as dealer_id,
        cast('UNKNOWN' as {{ dbt.type_string() }}) as dealer_code,
        cast('Unknown dealer' as {{ dbt.type_string() }}) as dealer_name,
        cast(null as {{ dbt.type_string() }}) as country_code,
        cast(null as {{ dbt.type_string() }}) as sales_region,
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
