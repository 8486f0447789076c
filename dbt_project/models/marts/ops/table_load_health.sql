with runs as (
    select * from {{ ref('pipeline_runs') }}
),

measured as (
    select {{ dbt.current_timestamp() }} as measured_at
),

loaded as (
    select * from runs
    where load_status = 'loaded'
),

latest as (
    select
        source_name,
        table_name,
        manifest_key,
        rows_loaded,
        row_number() over (
            partition by source_name, table_name order by finished_at desc, manifest_key desc
        ) as recency
    from loaded
),

per_table as (
    select
        loaded.source_name,
        loaded.table_name,
        max(loaded.finished_at) as last_loaded_at,
        count(*) as batches_loaded,
        sum(case
            when loaded.finished_at >= {{ dbt.dateadd('hour', -24, 'measured.measured_at') }}
                then loaded.rows_loaded
            else 0
        end) as rows_loaded_last_24h,
        sum(case
            when loaded.finished_at >= {{ dbt.dateadd('hour', -24, 'measured.measured_at') }}
                then loaded.rows_rejected
            else 0
        end) as rows_rejected_last_24h,
        sum(case
            when loaded.finished_at >= {{ dbt.dateadd('hour', -24, 'measured.measured_at') }}
                then loaded.rows_extracted
            else 0
        end) as rows_extracted_last_24h,
        avg(loaded.load_seconds) as avg_load_seconds,
        max(loaded.load_seconds) as max_load_seconds,
        min(case when loaded.counts_reconcile then 1 else 0 end) = 1 as all_batches_reconcile
    from loaded
    cross join measured
    group by 1, 2
),

final as (
    select
        cast(
            {{ dbt.concat(["per_table.source_name", "'.'", "per_table.table_name"]) }}
            as varchar(260)
        ) as source_table,
        per_table.source_name,
        per_table.table_name,
        measured.measured_at,
        per_table.last_loaded_at,
        cast(
            {{ dbt.datediff('per_table.last_loaded_at', 'measured.measured_at', 'minute') }}
            / 60.0 as numeric(10, 2)
        ) as hours_since_last_load,
        cast(
            case
                when
                    per_table.last_loaded_at
                    >= {{ dbt.dateadd('hour', -12, 'measured.measured_at') }} then 'fresh'
                when
                    per_table.last_loaded_at
                    >= {{ dbt.dateadd('hour', -24, 'measured.measured_at') }} then 'stale'
                else 'late'
            end as varchar(5)
        ) as freshness_status,
        cast(per_table.batches_loaded as integer) as batches_loaded,
        latest.rows_loaded as last_batch_rows_loaded,
        cast(per_table.rows_loaded_last_24h as bigint) as rows_loaded_last_24h,
        cast(per_table.rows_rejected_last_24h as bigint) as rows_rejected_last_24h,
        cast(
            1.0 * per_table.rows_rejected_last_24h
            / nullif(per_table.rows_extracted_last_24h, 0) as numeric(9, 6)
        ) as reject_rate_last_24h,
        cast(per_table.avg_load_seconds as numeric(12, 3)) as avg_load_seconds,
        cast(per_table.max_load_seconds as numeric(12, 3)) as max_load_seconds,
        per_table.all_batches_reconcile
    from per_table
    cross join measured
    inner join latest
        on
            per_table.source_name = latest.source_name
            and per_table.table_name = latest.table_name
            and latest.recency = 1
)

select * from final
