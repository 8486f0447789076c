{{
    config(
        materialized='incremental',
        unique_key='claim_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook=[
            "{{ delete_changed_and_deleted_keys('claim_id', 'bigint',
                ref('stg_jlr_ops__warranty_claims'), 'warranty_claims') }}",
            "{{ delete_keys_missing_after_replacement('claim_id',
                ref('stg_jlr_ops__warranty_claims'), 'warranty_claims') }}",
        ],
    )
}}

{#- The pre-hooks read staging's claims: the keys int_warranty_claims_resolved holds (left joins
    only), without its joins. #}
-- depends_on: {{ ref('stg_jlr_ops__warranty_claims') }}
-- depends_on: {{ ref('int_staging_deletions') }}

with claims as (
    select * from {{ ref('int_warranty_claims_resolved') }}
    {%- if is_incremental() %}
        as resolved
        -- claims changed since the last run, and the claims of vehicles whose orders changed
        -- (their service start may have moved); a plain IN: claims have no index on vin, so
        -- PostgreSQL hashes the changed VINs once
        where
            resolved._loaded_at > {{ last_change('_loaded_at') }}
            or resolved.vin in (
                select changed.vin from {{ ref('int_vehicle_deliveries') }} as changed
                where changed.last_order_loaded_at > {{ last_change('_loaded_at') }}
            )
    {%- endif %}
),

-- joined here rather than in int_warranty_claims_resolved: a view on this table would be
-- dropped with it each time the table is rebuilt
deliveries as (
    select * from {{ ref('int_vehicle_deliveries') }}
),

final as (
    select
        claims.claim_id,
        claims.vin,
        claims.model_id,
        claims.dealer_id,
        claims.source_dealer_id,
        claims.part_id,
        claims.part_category,
        claims.claimed_on,
        cast({{ dbt.date_trunc('month', 'claims.claimed_on') }} as date) as claim_month,
        deliveries.in_service_on,
        cast(
            {{ dbt.datediff('deliveries.in_service_on', 'claims.claimed_on', 'month') }} as integer -- noqa: LT05
        ) as months_in_service,
        claims.failure_mileage,
        claims.labour_hours,
        cast(claims.repair_seconds as numeric(12, 3)) as repair_seconds,
        claims.labour_cost_gbp,
        claims.parts_cost_gbp,
        cast(claims.claim_cost_gbp as numeric(12, 2)) as claim_cost_gbp,
        claims.claim_status,
        claims.claim_status <> 'rejected' as is_accepted,
        claims.is_orphan_vehicle,
        claims._loaded_at
    from claims
    left join deliveries on claims.vin = deliveries.vin
)

select * from final
