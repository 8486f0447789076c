with models as (
    select * from {{ ref('stg_jlr_ops__vehicle_models') }}
),

known_models as (
    select
        cast(model_id as integer) as model_id,
        brand,
        model_name,
        body_style,
        launch_year,
        is_electric,
        false as is_unknown_member
    from models
),

unknown_model as (
    select
        cast(-1 as integer) as model_id,
        cast('Unknown' as {{ dbt.type_string() }}) as brand,
        cast('Unknown model' as {{ dbt.type_string() }}) as model_name,
        cast(null as {{ dbt.type_string() }}) as body_style,
        cast(null as smallint) as launch_year,
        false as is_electric,
        true as is_unknown_member
),

final as (
    select * from known_models
    union all
    select * from unknown_model
)

select * from final
