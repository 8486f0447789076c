with calendar as (
    select * from {{ ref('fiscal_calendar') }}
),

days as (
    {{ dbt.date_spine('day', "cast('" ~ var('calendar_start') ~ "' as date)",
        "cast('" ~ var('calendar_end') ~ "' as date)") }}
),

final as (
    select
        cast(days.date_day as date) as date_day,
        cast({{ dbt.date_trunc('month', 'days.date_day') }} as date) as month_start,
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
