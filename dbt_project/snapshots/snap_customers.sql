{% snapshot snap_customers %}

    -- depends_on: {{ ref('int_staging_deletions') }}
    -- Only the customers that landed in staging since the newest version held are compared (through
    -- staging's _loaded_at index); the pre-hooks close the versions of purged customers, as dbt's
    -- hard_deletes: invalidate would by comparing every customer. --full-refresh compares all.
    with customers as (
        select * from {{ ref('int_customers_pseudonymised') }}
    )

    select
        customer_id,
        email_hash,
        phone_hash,
        birth_year,
        country_code,
        has_marketing_opt_in,
        created_at,
        updated_at,
        is_deleted,
        _loaded_at
    from customers
    {{ snapshot_changed_since_last_run('_loaded_at') }}

{% endsnapshot %}
