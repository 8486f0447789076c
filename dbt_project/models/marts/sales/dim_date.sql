with calendar as (
    select * from {{ ref('fiscal_calendar') }}
),

{#- the day count is computed here, so compiling needs no database (dbt.date_spine queries one) -#}
{%- set start = modules.datetime.date.fromisoformat(var('calendar_start')) -%}
{%- set day_count = (modules.datetime.date.fromisoformat(var('calendar_end')) - start).days -%}
{%- if day_count > 10000 -%}
    {{ exceptions.raise_compiler_error("dim_date spans at most 10,000 days; check vars calendar_start and calendar_end") }}
{%- endif %}

digits as (
    select 0 as digit
    union all
    select 1 as digit
    union all
    select 2 as digit
    union all
    select 3 as digit
    union all
    select 4 as digit
    union all
    select 5 as digit
    union all
    select 6 as digit
    union all
    select 7 as digit
    union all
    select 8 as digit
    union all
    select 9 as digit
),

numbers as (
    select
        thousands.digit * 1000 + hundreds.digit * 100 + tens.digit * 10 + units.digit
            as day_number
    from digits as units
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands
),

days as (
    select
        {{ dbt.dateadd('day', 'numbers.day_number', "cast('" ~ start ~ "' as date)") }}
            as date_day
    from numbers
    where numbers.day_number < {{ day_count }}
),

final as (
    select
        cast(days.date_day as date) as date_day,
        {{ first_day_of_month('days.date_day') }} as month_start,
        cast(extract(year from days.date_day) as smallint) as calendar_year,
        cast(extract(quarter from days.date_day) as smallint) as calendar_quarter,
        cast(extract(month from days.date_day) as smallint) as calendar_month,
        cast(extract(day from days.date_day) as smallint) as day_of_month,
        {{ day_of_week_iso('days.date_day') }} as day_of_week,
        {{ day_of_week_iso('days.date_day') }} >= 6 as is_weekend,
        -- the fiscal year is named after the calendar year in which it ends (FY2026 = Apr 2025 ..)
        cast(
            extract(year from days.date_day)
            + case
                when extract(month from days.date_day) >= calendar.fiscal_year_start_month
                    then 1
                else 0
            end as smallint
        ) as fiscal_year
    from days
    cross join calendar
)

select * from final
