-- Type-2 history: exactly one current version per customer, and versions never overlap.
-- An ordinary build checks the customers with a version written or closed since the last clean
-- run; test_scope all and --full-refresh check every customer.
{%- set since = clean_run_start(literal=true) %}
{%- set dim_customer = ref('dim_customer') %}

with
{%- if since %}
    checked_customers as (
        select written.customer_id from {{ dim_customer }} as written
        where written._loaded_at >= {{ since }}
        union all
        select closed.customer_id from {{ dim_customer }} as closed
        where closed.valid_to >= {{ since }}
    ),
{%- endif %}

versions as (
    select * from {{ dim_customer }}
    {%- if since %}
        where customer_id in (select checked_customers.customer_id from checked_customers)
    {%- endif %}
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
