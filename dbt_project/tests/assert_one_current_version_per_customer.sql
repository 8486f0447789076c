-- Type-2 history: exactly one current version per customer, and versions never overlap.
with versions as (
    select * from {{ ref('dim_customer') }}
),

current_counts as (
    select
        customer_id,
        count(*) as current_versions
    from versions
    where is_current
    group by customer_id
    having count(*) <> 1
),

overlapping_versions as (
    select
        earlier.customer_id,
        2 as current_versions
    from versions as earlier
    inner join versions as later
        on
            earlier.customer_id = later.customer_id
            and earlier.customer_version_key <> later.customer_version_key
            and earlier.valid_from < later.valid_from
            and (earlier.valid_to is null or earlier.valid_to > later.valid_from)
)

select * from current_counts
union all
select * from overlapping_versions
