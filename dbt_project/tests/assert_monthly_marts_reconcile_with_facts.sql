-- The monthly marts add up to the facts they summarise.
with dealer_months as (
    select sum(orders_placed) as total from {{ ref('dealer_performance_monthly') }}
),

sales as (
    select count(*) as total from {{ ref('fct_vehicle_sales') }}
),

quality_months as (
    select sum(claims) as total from {{ ref('model_quality_monthly') }}
),

accepted_claims as (
    select count(*) as total from {{ ref('fct_warranty_claims') }}
    where is_accepted and not is_orphan_vehicle
)

select
    'dealer_performance_monthly' as mart,
    dealer_months.total,
    sales.total as expected
from dealer_months cross join sales
where dealer_months.total <> sales.total
union all
select
    'model_quality_monthly' as mart,
    quality_months.total,
    accepted_claims.total as expected
from quality_months cross join accepted_claims
where quality_months.total <> accepted_claims.total
