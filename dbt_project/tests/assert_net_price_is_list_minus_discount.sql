-- Prices reconcile on every sale, in the order's currency.
select
    order_id,
    list_price,
    discount_amount,
    net_price
from {{ ref('fct_vehicle_sales') }}
where net_price <> list_price - discount_amount
