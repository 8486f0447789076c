{#- Generic tests of this project. Each returns the failing rows. -#}

{#- Amounts that must never be below zero (costs, prices, counts): on a column, or on a model with
    `columns`, all of them in one read of the model (one test node, not one per column: every
    node costs a build the same few hundredths of a second of dbt's time). The failing rows show
    each amount. -#}
{% test non_negative(model, column_name=none, columns=none) %}
    {%- set amounts = columns or [column_name] -%}
    select {{ amounts | join(', ') }}
    from {{ model }}
    where
    {%- for amount in amounts %}
        {{ 'or ' if not loop.first }}{{ amount }} < 0
    {%- endfor %}
{% endtest %}

{#- A primary key: never null and never repeated, dbt's `not_null` and `unique` in one read of the
    model and one test node. Each failing row is one key value (null: every null row counted
    together) with the rows that hold it and the problem: 'null key' or 'repeated key'. -#}
{% test primary_key(model, column_name) %}
    select
        {{ column_name }} as key_value,
        count(*) as rows_with_key,
        case when {{ column_name }} is null then 'null key' else 'repeated key' end as problem
    from {{ model }}
    group by {{ column_name }}
    having {{ column_name }} is null or count(*) > 1
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

{#- dbt's relationships test, with one change: when an ordinary build reads only the changed rows
    of the child (macros/test_scope.sql), the parent is read only at those keys. PostgreSQL cannot
    look keys up through a view written with CTEs (it does not flatten it), so the plain test
    hashed the whole parent (a million VINs) to check a few thousand. -#}
{% macro default__test_relationships(model, column_name, to, field) %}

with child as (
    select {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select {{ field }} as to_field
    from {{ to }}
    {%- if changed_rows_condition() %}
        where {{ matches_any_of(field, 'select child.from_field from child') }}
    {%- endif %}
)

select child.from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null

{% endmacro %}
