with vehicles as (
    select * from {{ ref('dim_vehicle') }}
),

claims as (
    select * from {{ ref('fct_warranty_claims') }}
),

calendar as (
    select * from {{ ref('dim_date') }}
),

models as (
    select * from {{ ref('dim_model') }}
),

entering_service as (
    select
        model_id,
        {{ first_day_of_month('in_service_on') }} as month_start,
        count(*) as vehicles_entering
    from vehicles
    where in_service_on is not null
    group by 1, 2
),

service_span as (
    -- from the month of the first delivery to the month of the latest claim (vehicles are read
    -- once, by entering_service: PostgreSQL would copy a CTE read twice, all million rows)
    select
        min(entering_service.month_start) as first_month,
        (select max(claims.claimed_on) from claims) as last_day
    from entering_service
),

months as (
    select distinct calendar.month_start
    from calendar
    cross join service_span
    where
        calendar.month_start >= service_span.first_month
        and calendar.month_start <= service_span.last_day
),

monthly_claims as (
    -- accepted claims only: rejected ones cost nothing and say little about quality
    select
        model_id,
        claim_month as month_start,
        count(*) as claims,
        sum(claim_cost_gbp) as claim_cost_gbp
    from claims
    where is_accepted and not is_orphan_vehicle
    group by 1, 2
),

model_months as (
    select
        models.model_id,
        models.brand,
        models.model_name,
        months.month_start
    from models
    cross join months
    where not models.is_unknown_member
),

in_service as (
    select
        model_months.model_id,
        model_months.brand,
        model_months.model_name,
        model_months.month_start,
        sum(coalesce(entering_service.vehicles_entering, 0)) over (
            partition by model_months.model_id
            order by model_months.month_start
            rows between unbounded preceding and current row
        ) as vehicles_in_service
    from model_months
    left join entering_service
        on
            model_months.model_id = entering_service.model_id
            and model_months.month_start = entering_service.month_start
),

final as (
    select
        {{ month_key('in_service.model_id', 'in_service.month_start') }} as model_month_key,
        in_service.model_id,
        in_service.brand,
        in_service.model_name,
        in_service.month_start,
        cast(in_service.vehicles_in_service as integer) as vehicles_in_service,
        cast(coalesce(monthly_claims.claims, 0) as integer) as claims,
        cast(coalesce(monthly_claims.claim_cost_gbp, 0) as numeric(16, 2)) as claim_cost_gbp,
        cast(
            1000.0 * coalesce(monthly_claims.claims, 0)
            / nullif(in_service.vehicles_in_service, 0) as numeric(12, 4)
        ) as claims_per_1000_vehicles,
        cast(
            1000.0 * coalesce(monthly_claims.claim_cost_gbp, 0)
            / nullif(in_service.vehicles_in_service, 0) as numeric(16, 2)
        ) as cost_per_1000_vehicles_gbp
    from in_service
    left join monthly_claims
        on
            in_service.model_id = monthly_claims.model_id
            and in_service.month_start = monthly_claims.month_start
)

select * from final
