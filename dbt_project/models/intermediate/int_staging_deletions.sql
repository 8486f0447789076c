-- What staging tables lost, and when: each key an incremental batch deleted, and each full batch,
-- which replaced its table (key_value null) so that any key may have gone.
with deleted_keys as (
    select * from {{ ref('stg_ops__deleted_keys') }}
),

loads as (
    select * from {{ ref('stg_ops__load_audit') }}
),

keys_deleted as (
    select
        deletion_key,
        source_name,
        table_name,
        key_value,
        false as is_table_replaced,
        deleted_at
    from deleted_keys
),

tables_replaced as (
    -- started_at: no later than the batch's _loaded_at, so a model that merged the batch's
    -- rows has seen the replacement too
    select
        cast(manifest_key as varchar(2400)) as deletion_key,
        source_name,
        table_name,
        cast(null as varchar(1024)) as key_value,
        true as is_table_replaced,
        started_at as deleted_at
    from loads
    where load_mode = 'full' and load_status = 'loaded'
),

final as (
    select * from keys_deleted
    union all
    select * from tables_replaced
)

select * from final
