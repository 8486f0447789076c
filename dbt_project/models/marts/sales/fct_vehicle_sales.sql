{{
    config(
        materialized='incremental',
        unique_key='order_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="{{ delete_orders_changed_since_last_run() }}",
    )
}}

{#- The pre-hook removes every order that changed since the last run, by its pairs in
    int_sales_order_vehicles: loaded again, soft- or hard-deleted, or gone when a full batch
    replaced staging. The live ones are inserted again below. #}
-- depends_on: {{ ref('int_sales_order_vehicles') }}

with orders as (
    select * from {{ ref('int_sales_orders_resolved') }}
    -- orders (re)loaded since the last run; the pre-hooks removed changed and deleted ones
    {{ changed_since_last_run('_loaded_at') }}
),

vehicles as (
    select * from {{ ref('int_vehicles_described') }}
    {%- if is_incremental() %}
        as described
        -- only the vehicles of the changed orders (their pairs changed since the last run,
        -- through the pairs' _changed_at index), looked up by VIN
        where {{ matches_any_of('described.vin',
            'select touched.vin from ' ~ ref('int_sales_order_vehicles') ~ ' as touched'
            ~ ' where touched._changed_at > ' ~ last_change('_loaded_at')) }}
    {%- endif %}
),

final as (
    select
        orders.order_id,
        orders.vin,
        orders.dealer_id,
        orders.source_dealer_id,
        orders.customer_id,
        orders.source_customer_id,
        coalesce(vehicles.model_id, -1) as model_id,
        vehicles.trim_id,
        vehicles.brand,
        vehicles.model_name,
        vehicles.model_year,
        orders.ordered_at,
        cast(orders.ordered_at as date) as ordered_on,
        orders.delivered_on,
        cast(
            {{ dbt.datediff('orders.ordered_at', 'orders.delivered_on', 'day') }} as integer -- noqa: LT05
        ) as delivery_lead_days,
        orders.list_price,
        orders.discount_amount,
        orders.net_price,
        cast(
            orders.discount_amount / nullif(orders.list_price, 0) as numeric(9, 6)
        ) as discount_rate,
        orders.currency_code,
        orders.list_price_gbp,
        orders.discount_amount_gbp,
        orders.net_price_gbp,
        orders.order_status,
        orders.sales_channel,
        orders.is_orphan_dealer,
        orders.is_orphan_customer,
        orders.has_negative_discount,
        orders._loaded_at
    from orders
    left join vehicles on orders.vin = vehicles.vin
)

select * from final
