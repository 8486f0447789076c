-- Prices reconcile on every sale, in the order's currency. An ordinary build reads the sales
-- written since the last clean run; test_scope all and --full-refresh read every sale.
{%- set since = clean_run_start(literal=true) %}

select
    order_id,
    list_price,
    discount_amount,
    net_price
from {{ ref('fct_vehicle_sales') }}
where
    net_price <> list_price - discount_amount
    {%- if since %}
        and _loaded_at >= {{ since }}
    {%- endif %}
