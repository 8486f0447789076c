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
        finished_at,
        cast(binlog_position as varchar(256)) as binlog_position,
        cast(capture_lag_seconds as numeric(14, 3)) as capture_lag_seconds,
        events_inserted,
        events_updated,
        events_deleted
    from source
)

select * from renamed
