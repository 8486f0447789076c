{#- Post-hook of incremental marts: remove the rows whose key no longer exists upstream (soft
    or hard deletes at the source), so an incremental run honours deletes like a full one.
    `where` narrows the upstream rows (e.g. staging's live rows, cheaper to read than an
    intermediate view that holds exactly those). -#}
{% macro delete_rows_missing_from(key, upstream, where=none) -%}
    delete from {{ this }}
    where not exists (
        select 1 from {{ upstream }} as upstream
        where upstream.{{ key }} = {{ this }}.{{ key }}
        {%- if where %} and {{ where }}{% endif %}
    )
{%- endmacro %}
