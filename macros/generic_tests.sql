{#- Generic tests of this project. Each returns the failing rows. -#}

{#- Amounts that must never be below zero (costs, prices, counts). -#}
{% test non_negative(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} < 0
{% endtest %}

{#- A VIN (ISO 3779): 17 characters from 0-9 and A-Z without I, O and Q; with check_digit, the
    9th character is the check digit of the North American scheme, which JLR applies to every
    market (transliterate, weight, sum modulo 11; 10 is written X). -#}
{% test valid_vin(model, column_name, check_digit=true) %}
    {%- set weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2] -%}
    with vins as (
        select
            {{ column_name }} as vin,
            {{ regex_matches(column_name, '^[A-HJ-NPR-Z0-9]{17}$') }} as is_well_formed
        from {{ model }}
        where {{ column_name }} is not null
    ),

    check_values as (
        -- one character at a time: a translate() of the whole VIN would be repeated for every
        -- position once the planner inlines the expression
        select
            vin,
            mod(
                {%- for weight in weights if weight %}
                cast(translate(
                    substring(vin, {{ loop.index if loop.index < 9 else loop.index + 1 }}, 1),
                    'ABCDEFGHJKLMNPRSTUVWXYZ', '12345678123457923456789'
                ) as integer) * {{ weight }}{{ ' +' if not loop.last }}
                {%- endfor %}
            , 11) as check_value
        from vins
        where is_well_formed
    )

    select vin from vins where not is_well_formed
    {%- if check_digit %}
    union all
    select vin
    from check_values
    where substring(vin, 9, 1) <> (
        case when check_value = 10 then 'X'
            else cast(check_value as {{ dbt.type_string() }}) end
    )
    {%- endif %}
{% endtest %}

{#- A staging table holds exactly the rows the load audit says it should: the sum over its
    applied batches of rows inserted minus rows removed (a full batch removes what was there). -#}
{% test row_count_matches_load_audit(model, source_name='jlr_ops') %}
    with staged as (
        select count(*) as staged_rows from {{ model }}
    ),

    audited as (
        select coalesce(sum(rows_loaded - rows_deleted), 0) as audited_rows
        from {{ source('ops', 'load_audit') }}
        where source = '{{ source_name }}'
            and table_name = '{{ model.identifier }}'
            and status = 'loaded'
    )

    select staged.staged_rows, audited.audited_rows
    from staged
    cross join audited
    where staged.staged_rows <> audited.audited_rows
{% endtest %}
