with source as (
    select * from {{ source('jlr_ops', 'sales_orders') }}
),

renamed as (
    select
        order_id,
        dealer_id,
        customer_id,
        vin,
        order_date as ordered_at,
        -- zero dates ('0000-00-00') arrive as null from the pipeline
        delivery_date as delivered_on,
        list_price,
        discount_amount,
        net_price,
        currency as currency_code,
        status as order_status,
        sales_channel,
        finance_products,
        payment_reference,
        created_at,
        updated_at,
        deleted_at,
        deleted_at is not null as is_deleted,
        _loaded_at
    from source
)

select * from renamed
