{{
    config(
        materialized='incremental',
        unique_key='vin',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook=[
            "{{ delete_changed_and_deleted_keys('vin', dbt.type_string(),
                ref('stg_jlr_ops__vehicles'), 'vehicles', last_changed_at='_changed_at') }}",
            "{{ delete_keys_missing_after_replacement('vin', ref('int_vehicles_described'),
                'vehicles', last_changed_at='_changed_at') }}",
        ],
    )
}}

{#- The pre-hooks remove the vehicles changed in staging or deleted from it (those still described
    are inserted again below) and, after a replacement of staging, any no longer described. #}
-- depends_on: {{ ref('stg_jlr_ops__vehicles') }}
-- depends_on: {{ ref('int_staging_deletions') }}

with vehicles as (
    select * from {{ ref('int_vehicles_described') }}
    {%- if is_incremental() %}
        as vehicles
        -- vehicles whose row or orders changed after the newest change this model holds: an
        -- order loaded (soft-deleted ones included), moved to another vehicle or hard-deleted;
        -- the first condition reaches staging's _loaded_at index, the second its primary key
        where
            vehicles._loaded_at > {{ last_change('_changed_at') }}
            or {{ matches_any_of('vehicles.vin',
                'select touched.vin from ' ~ ref('int_sales_order_vehicles') ~ ' as touched'
                ~ ' where touched._changed_at > ' ~ last_change('_changed_at')) }}
    {%- endif %}
),

orders as (
    -- each order's current vehicle, soft-deleted orders included: a deletion changes the
    -- vehicle too; an incremental run reads only the orders of the vehicles above, by VIN
    select * from {{ ref('int_sales_order_vehicles') }} as pairs
    where pairs.is_current
    {%- if is_incremental() %}
        and {{ matches_any_of('pairs.vin', 'select changed.vin from vehicles as changed') }}
    {%- endif %}
),

deliveries as (
    -- a vehicle enters service when it is first delivered to a customer (on a live order)
    select
        vin,
        min(
            case when order_status = 'delivered' and not is_deleted then delivered_on end
        ) as in_service_on,
        max(order_loaded_at) as last_order_loaded_at
    from orders
    group by vin
),

described as (
    select
        vehicles.vin,
        vehicles.model_id,
        vehicles.trim_id,
        vehicles.brand,
        vehicles.model_name,
        vehicles.trim_name,
        vehicles.powertrain,
        vehicles.model_year,
        vehicles.exterior_colour,
        vehicles.plant_id,
        vehicles.plant_name,
        vehicles.built_on,
        deliveries.in_service_on,
        deliveries.in_service_on is not null as is_in_service,
        vehicles.option_pack,
        vehicles.wheel_size_in,
        vehicles.has_towing_pack,
        -- the vehicle row or one of its orders changed at this time: drives the incremental runs
        case
            when deliveries.last_order_loaded_at > vehicles._loaded_at
                then deliveries.last_order_loaded_at
            else vehicles._loaded_at
        end as _changed_at
    from vehicles
    left join deliveries on vehicles.vin = deliveries.vin
)

select * from described
