{{
    config(
        materialized='incremental',
        unique_key='customer_version_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with versions as (
    select * from {{ ref('snap_customers') }}
),
{%- if is_incremental() %}

    -- customers with a version newer than the newest this model holds, or whose version the
    -- snapshot closed since (purged at the source: it sets valid_to to the snapshot time): all
    -- their versions are written again, so superseded ones get their valid_to
    changed_customers as (
        select changed.customer_id
        from {{ ref('snap_customers') }} as changed
        where
            changed._loaded_at > {{ last_change('_loaded_at') }}
            or changed.dbt_valid_to > {{ last_change('_loaded_at') }}
    ),
{%- endif %}

known_versions as (
    select
        cast(versions.dbt_scd_id as varchar(32)) as customer_version_key,
        versions.customer_id,
        versions.email_hash,
        versions.phone_hash,
        versions.birth_year,
        versions.country_code,
        versions.has_marketing_opt_in,
        versions.is_deleted,
        versions.created_at,
        versions.dbt_valid_from as valid_from,
        versions.dbt_valid_to as valid_to,
        versions.dbt_valid_to is null as is_current,
        false as is_unknown_member,
        versions._loaded_at
    from versions
    {%- if is_incremental() %}
        where versions.customer_id in (select changed_customers.customer_id from changed_customers)
    {%- endif %}
),

{%- if not is_incremental() %}

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
            true as is_unknown_member,
            cast(null as timestamptz) as _loaded_at
    ),
{%- endif %}

final as (
    select * from known_versions
    {%- if not is_incremental() %}
        union all
        select * from unknown_customer
    {%- endif %}
)

select * from final
