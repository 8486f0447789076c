with sales as (
    select * from {{ ref('fct_vehicle_sales') }}
),

monthly as (
    select
        dealer_id,
        {{ first_day_of_month('ordered_on') }} as month_start,
        count(*) as orders_placed,
        sum(case when order_status = 'cancelled' then 1 else 0 end) as orders_cancelled,
        sum(case when order_status = 'delivered' then 1 else 0 end) as units_delivered,
        sum(case when order_status <> 'cancelled' then net_price_gbp else 0 end) as revenue_gbp,
        avg(case when order_status <> 'cancelled' then discount_rate end) as avg_discount_rate,
        avg(delivery_lead_days) as avg_delivery_lead_days
    from sales
    group by 1, 2
),

final as (
    select
        {{ month_key('dealer_id', 'month_start') }} as dealer_month_key,
        dealer_id,
        month_start,
        cast(orders_placed as integer) as orders_placed,
        cast(orders_cancelled as integer) as orders_cancelled,
        cast(orders_placed - orders_cancelled as integer) as units_sold,
        cast(units_delivered as integer) as units_delivered,
        cast(revenue_gbp as numeric(16, 2)) as revenue_gbp,
        cast(avg_discount_rate as numeric(9, 6)) as avg_discount_rate,
        cast(avg_delivery_lead_days as numeric(8, 2)) as avg_delivery_lead_days,
        cast(
            1.0 * orders_cancelled / nullif(orders_placed, 0) as numeric(9, 6)
        ) as cancellation_rate
    from monthly
)

select * from final
