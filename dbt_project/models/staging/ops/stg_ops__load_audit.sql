with source as (
    select * from {{ source('ops', 'load_audit') }}
),

renamed as (
    select
        cast(manifest_key as varchar(1024)) as manifest_key,
        cast(source as varchar(128)) as source_name,
        cast(table_name as varchar(128)) as table_name,
        cast(batch_id as varchar(64)) as batch_id,
        cast(mode as varchar(16)) as load_mode,
        cast(status as varchar(16)) as load_status,
        rows_extracted,
        rows_rejected,
        duplicates_removed,
        rows_curated,
        rows_loaded,
        rows_deleted,
        rows_tombstoned,
        started_at,
        finished_at
    from source
)

select * from renamed
