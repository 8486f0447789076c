with audit as (
    select * from {{ ref('stg_ops__load_audit') }}
),

final as (
    select
        manifest_key,
        source_name,
        table_name,
        batch_id,
        load_mode,
        load_status,
        rows_extracted,
        rows_rejected,
        duplicates_removed,
        rows_curated,
        rows_loaded,
        rows_deleted,
        rows_tombstoned,
        cast(
            1.0 * rows_rejected / nullif(rows_extracted, 0) as numeric(9, 6)
        ) as reject_rate,
        started_at,
        finished_at,
        cast(
            {{ dbt.datediff('started_at', 'finished_at', 'millisecond') }} / 1000.0 -- noqa: LT05
            as numeric(12, 3)
        ) as load_seconds,
        -- the pipeline's promise, checked per batch
        rows_extracted = rows_curated + rows_rejected + duplicates_removed
        and (load_status <> 'loaded' or rows_curated = rows_loaded + rows_tombstoned)
            as counts_reconcile,
        binlog_position,
        capture_lag_seconds,
        events_inserted,
        events_updated,
        events_deleted
    from audit
)

select * from final
