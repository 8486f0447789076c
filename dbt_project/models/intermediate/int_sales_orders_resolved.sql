with orders as (
    select * from {{ ref('stg_jlr_ops__sales_orders') }}
),

dealers as (
    select dealer_id from {{ ref('stg_jlr_ops__dealers') }}
),

customers as (
    select customer_id from {{ ref('stg_jlr_ops__customers') }}
),

rates as (
    select * from {{ ref('currency_rates') }}
),

live_orders as (
    select * from orders
    where not is_deleted
),

resolved as (
    select
        live_orders.order_id,
        -- orders of dealers that closed and were removed go to the unknown dealer
        coalesce(dealers.dealer_id, -1) as dealer_id,
        live_orders.dealer_id as source_dealer_id,
        dealers.dealer_id is null as is_orphan_dealer,
        -- customers quarantined by the pipeline (or purged) go to the unknown customer
        coalesce(customers.customer_id, -1) as customer_id,
        live_orders.customer_id as source_customer_id,
        customers.customer_id is null as is_orphan_customer,
        live_orders.vin,
        live_orders.ordered_at,
        live_orders.delivered_on,
        live_orders.list_price,
        live_orders.discount_amount,
        live_orders.net_price,
        live_orders.currency_code,
        cast(live_orders.list_price / rates.units_per_gbp as numeric(14, 2)) as list_price_gbp,
        cast(
            live_orders.discount_amount / rates.units_per_gbp as numeric(14, 2)
        ) as discount_amount_gbp,
        cast(live_orders.net_price / rates.units_per_gbp as numeric(14, 2)) as net_price_gbp,
        live_orders.order_status,
        live_orders.sales_channel,
        live_orders.discount_amount < 0 as has_negative_discount,
        live_orders._loaded_at
    from live_orders
    left join dealers on live_orders.dealer_id = dealers.dealer_id
    left join customers on live_orders.customer_id = customers.customer_id
    left join rates on live_orders.currency_code = rates.currency_code
)

select * from resolved
