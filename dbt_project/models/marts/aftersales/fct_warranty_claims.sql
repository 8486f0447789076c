{{
    config(
        materialized='incremental',
        unique_key='claim_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=[
            "{{ delete_rows_missing_from('claim_id', ref('stg_jlr_ops__warranty_claims')) }}"
        ],
    )
}}

{#- The post-hook reads staging's claims: the keys int_warranty_claims_resolved holds (left joins
    only), without its joins. #}
-- depends_on: {{ ref('stg_jlr_ops__warranty_claims') }}

with claims as (
    select * from {{ ref('int_warranty_claims_resolved') }} as resolved
    {{ changed_since_last_run('resolved._loaded_at') }}
),

final as (
    select
        claim_id,
        vin,
        model_id,
        dealer_id,
        source_dealer_id,
        part_id,
        part_category,
        claimed_on,
        cast({{ dbt.date_trunc('month', 'claimed_on') }} as date) as claim_month,
        in_service_on,
        months_in_service,
        failure_mileage,
        labour_hours,
        cast(repair_seconds as numeric(12, 3)) as repair_seconds,
        labour_cost_gbp,
        parts_cost_gbp,
        cast(claim_cost_gbp as numeric(12, 2)) as claim_cost_gbp,
        claim_status,
        claim_status <> 'rejected' as is_accepted,
        is_orphan_vehicle,
        _loaded_at
    from claims
)

select * from final
