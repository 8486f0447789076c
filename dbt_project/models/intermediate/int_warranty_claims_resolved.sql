with claims as (
    select * from {{ ref('stg_jlr_ops__warranty_claims') }}
),

dealers as (
    select dealer_id from {{ ref('stg_jlr_ops__dealers') }}
),

parts as (
    select * from {{ ref('stg_jlr_ops__parts') }}
),

resolved as (
    select
        claims.claim_id,
        -- the vehicle (model, service start) is looked up by the mart, in dim_vehicle
        claims.vin,
        coalesce(dealers.dealer_id, -1) as dealer_id,
        claims.dealer_id as source_dealer_id,
        claims.part_id,
        parts.part_category,
        claims.claimed_on,
        claims.failure_mileage,
        claims.labour_hours,
        claims.repair_seconds,
        claims.labour_cost_gbp,
        claims.parts_cost_gbp,
        claims.labour_cost_gbp + claims.parts_cost_gbp as claim_cost_gbp,
        claims.claim_status,
        claims._loaded_at
    from claims
    left join dealers on claims.dealer_id = dealers.dealer_id
    left join parts on claims.part_id = parts.part_id
)

select * from resolved
