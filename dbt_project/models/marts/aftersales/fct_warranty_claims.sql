{{
    config(
        materialized='incremental',
        unique_key='claim_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook=[
            "{{ delete_changed_and_deleted_keys('claim_id', 'bigint',
                ref('int_warranty_claims_resolved'), 'warranty_claims') }}",
            "{{ delete_keys_missing_after_replacement('claim_id',
                ref('int_warranty_claims_resolved'), 'warranty_claims') }}",
        ],
    )
}}

{#- The pre-hooks read the claims' keys from int_warranty_claims_resolved (the filter on
    _loaded_at reaches staging's index through the view; its left joins are to the small dealer
    and part tables), not from staging beside it: one concept, read once. #}
-- depends_on: {{ ref('int_staging_deletions') }}
-- depends_on: {{ ref('int_sales_order_vehicles') }}

{%- set changed_vehicles -%}
    select changed.vin from {{ ref('dim_vehicle') }} as changed
    where changed._changed_at > {{ last_change('_loaded_at') }}
    union all
    select touched.vin from {{ ref('int_sales_order_vehicles') }} as touched
    where touched._changed_at > {{ last_change('_loaded_at') }}
{%- endset %}

with claims as (
    select * from {{ ref('int_warranty_claims_resolved') }}
    {%- if is_incremental() %}
        as changed_claims
        -- claims changed since the last run (staging's _loaded_at index) ...
        where changed_claims._loaded_at > {{ last_change('_loaded_at') }}
        union
        -- ... and the claims this model holds of vehicles that changed since (their model or
        -- service start may have moved): a vehicle row or one of its orders loaded, or an order
        -- that moved to another vehicle or was hard-deleted; looked up by claim id, staging's
        -- primary key (one query each: PostgreSQL cannot use an index for an OR of the two)
        select * from {{ ref('int_warranty_claims_resolved') }} as claims_of_changed_vehicles
        where {{ matches_any_of('claims_of_changed_vehicles.claim_id',
            'select held.claim_id from ' ~ this ~ ' as held where held.vin in ('
            ~ changed_vehicles ~ ')') }}
    {%- endif %}
),

-- the model and service start from the vehicle dimension; an incremental run looks up only the
-- claims' VINs (through its unique VIN index on PostgreSQL)
vehicles as (
    select * from {{ ref('dim_vehicle') }}
    {%- if is_incremental() %}
        as known
        where {{ matches_any_of('known.vin', 'select claims.vin from claims') }}
    {%- endif %}
),

final as (
    select
        claims.claim_id,
        claims.vin,
        -- claims on VINs the vehicle table does not know go to the unknown model
        coalesce(vehicles.model_id, -1) as model_id,
        claims.dealer_id,
        claims.source_dealer_id,
        claims.part_id,
        claims.part_category,
        claims.claimed_on,
        {{ first_day_of_month('claims.claimed_on') }} as claim_month,
        vehicles.in_service_on,
        cast(
            {{ dbt.datediff('vehicles.in_service_on', 'claims.claimed_on', 'month') }} as integer -- noqa: LT05
        ) as months_in_service,
        claims.failure_mileage,
        claims.labour_hours,
        cast(claims.repair_seconds as numeric(12, 3)) as repair_seconds,
        claims.labour_cost_gbp,
        claims.parts_cost_gbp,
        cast(claims.claim_cost_gbp as numeric(12, 2)) as claim_cost_gbp,
        claims.claim_status,
        claims.claim_status <> 'rejected' as is_accepted,
        vehicles.vin is null as is_orphan_vehicle,
        claims._loaded_at
    from claims
    left join vehicles on claims.vin = vehicles.vin
)

select * from final
