with orders as (
    select * from {{ ref('stg_jlr_ops__sales_orders') }}
),

dealers as (
    select * from {{ ref('stg_jlr_ops__dealers') }}
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
        live_orders.customer_id,
        live_orders.vin,
        live_orders.ordered_at,
        live_orders.delivered_on,
        live_orders.list_price,
        live_orders.discount_amount,
        live_orders.net_price,
        live_orders.currency_code,
        live_orders.order_status,
        live_orders.sales_channel,
        live_orders.discount_amount < 0 as has_negative_discount
    from live_orders
    left join dealers on live_orders.dealer_id = dealers.dealer_id
)

select * from resolved
