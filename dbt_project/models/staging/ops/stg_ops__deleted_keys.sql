with source as (
    select * from {{ source('ops', 'deleted_keys') }}
),

renamed as (
    select
        cast(
            {{ dbt.concat(["source", "'|'", "table_name", "'|'", "batch_id", "'|'", "key_value"]) }}
            as varchar(2400)
        ) as deletion_key,
        cast(source as varchar(128)) as source_name,
        cast(table_name as varchar(128)) as table_name,
        cast(key_value as varchar(1024)) as key_value,
        cast(batch_id as varchar(64)) as batch_id,
        cast(manifest_key as varchar(1024)) as manifest_key,
        deleted_at
    from source
)

select * from renamed
