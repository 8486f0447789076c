with orders as (
    select * from {{ ref('int_sales_orders_resolved') }}
),

vehicles as (
    select * from {{ ref('int_vehicles_described') }}
),

final as (
    select
        orders.order_id,
        orders.vin,
        orders.dealer_id,
        orders.source_dealer_id,
        orders.customer_id,
        vehicles.model_id,
        vehicles.trim_id,
        vehicles.brand,
        vehicles.model_name,
        vehicles.model_year,
        orders.ordered_at,
        cast(orders.ordered_at as date) as ordered_on,
        orders.delivered_on,
        cast(
            {{ dbt.datediff('orders.ordered_at', 'orders.delivered_on', 'day') }} as integer
        ) as delivery_lead_days,
        orders.list_price,
        orders.discount_amount,
        orders.net_price,
        cast(
            orders.discount_amount / nullif(orders.list_price, 0) as numeric(9, 6)
        ) as discount_rate,
        orders.currency_code,
        orders.order_status,
        orders.sales_channel,
        orders.is_orphan_dealer,
        orders.has_negative_discount
    from orders
    left join vehicles on orders.vin = vehicles.vin
)

select * from final
