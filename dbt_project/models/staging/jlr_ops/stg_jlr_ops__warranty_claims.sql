with source as (
    select * from {{ source('jlr_ops', 'warranty_claims') }}
),

renamed as (
    select
        claim_id,
        vin,
        dealer_id,
        part_id,
        claim_date as claimed_on,
        failure_mileage,
        labour_hours,
        -- MySQL TIME text, may exceed 24h (e.g. '26:30:00'): kept exact, seconds derived
        repair_time as repair_time_text,
        {{ time_text_to_seconds('repair_time') }} as repair_seconds,
        labour_cost as labour_cost_gbp,
        parts_cost as parts_cost_gbp,
        status as claim_status,
        failure_description,
        updated_at,
        _loaded_at
    from source
)

select * from renamed
