{#- Which rows a data test reads.

    An ordinary (incremental) build tests only what changed. The large models name their change
    column in `config.meta.changed_at` (e.g. _loaded_at); their generic tests then read only the
    rows that changed since the start of the last clean run: a `dbt build` or `dbt test` of the
    whole project in which nothing failed, errored or was skipped, as recorded by the hooks
    below in <schema>_ops_marts.dbt_invocations. Older rows were read by that run (which read
    everything after the clean run before it, back to a full one); a failing row keeps being
    read by every build until a run is clean.

    var test_scope: `auto` (default: changed rows; every row on --full-refresh), `all` (every
    row: the nightly full check, `--vars '{test_scope: all}'`), `changed` (changed rows even on
    --full-refresh; lets an offline compile show the scoped SQL).
    Not scoped: tests of small models (no changed_at), source tests (the staging row counts
    against ops.load_audit). Singular tests over the large models scope themselves with
    clean_run_start() below.

    Tests that compare rows with each other (unique, primary_key) read every row that shares a
    key with a changed row, not the changed rows alone: a changed row repeating the key of an
    unchanged one is a duplicate too, and Redshift enforces no uniqueness to stop it. The keys
    are looked up through the key's index where there is one. relationships reads the changed
    child rows and looks each up in the whole parent (its `to` is never scoped). -#}

{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- set changed = changed_rows_condition() -%}
    {%- set key = compared_key_column() if changed else none -%}
    {%- if key -%}
        {%- do conditions.append(
            '(' ~ key ~ ' in (select ' ~ key ~ ' from ' ~ relation ~ ' where ' ~ changed ~ ')'
            ~ ' or (' ~ key ~ ' is null and ' ~ changed ~ '))') -%}
    {%- elif changed -%}
        {%- do conditions.append(changed) -%}
    {%- endif -%}
    {%- if not conditions -%}
        {%- do return(relation) -%}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
    {%- endset -%}
    {%- do return(filtered) -%}
{%- endmacro %}


{#- The column of a test that compares rows by it (unique, primary_key); none for the others,
    which judge each row alone. -#}
{% macro compared_key_column() -%}
    {%- set test = model.get('test_metadata') or {} -%}
    {%- if test.get('name') not in ['unique', 'primary_key'] -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- do return(test.get('kwargs', {}).get('column_name')) -%}
{%- endmacro %}


{% macro changed_rows_condition() -%}
    {%- set tested = graph.nodes.get(model.attached_node) if model.attached_node else none -%}
    {%- set column = tested.config.meta.get('changed_at') if tested else none -%}
    {%- set since = clean_run_start() if column else none -%}
    {%- if not since -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- do return(adapter.quote(column) ~ ' >= ' ~ since) -%}
{%- endmacro %}


{#- The start of the last clean run, as SQL, when this run's tests read only what changed since;
    none when they read every row (test_scope all, or --full-refresh under auto). Singular tests
    scope themselves with it (`literal=true`): in a command that runs the project's hooks (build,
    test) it is read first and written as a timestamp, so that the planner sees how few rows
    pass it and looks them up by index; elsewhere (compile) it stays a subquery. -#}
{% macro clean_run_start(literal=false) -%}
    {%- set scope = var('test_scope', 'auto') -%}
    {%- if scope not in ['auto', 'all', 'changed'] -%}
        {%- do exceptions.raise_compiler_error(
            "var test_scope is '" ~ scope ~ "'; use auto, all or changed") -%}
    {%- endif -%}
    {%- if scope == 'all' or (scope == 'auto' and flags.FULL_REFRESH) -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set since -%}
        (
            select coalesce(max(started_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
            from {{ invocation_log() }} where is_clean
        )
    {%- endset -%}
    {%- if literal and scope_reads_database() -%}
        {%- set started = run_query('select ' ~ since).columns[0][0] -%}
        {%- do return("cast('" ~ started.isoformat() ~ "' as timestamptz)") -%}
    {%- endif -%}
    {%- do return(since) -%}
{%- endmacro %}


{#- The run log the scope reads: one row per dbt invocation that runs hooks (build, run, test,
    seed, snapshot). -#}
{% macro invocation_log() -%}
    {%- do return(api.Relation.create(
        database=target.database,
        schema=generate_schema_name('ops_marts', none) | trim,
        identifier='dbt_invocations')) -%}
{%- endmacro %}


{#- on-run-start: `step` create_schema | create_table | insert -#}
{% macro record_invocation_start(step) -%}
    {%- set log = invocation_log() -%}
    {%- set args = invocation_args_dict -%}
    {%- set whole_project = not (args.get('select') or args.get('exclude')
        or args.get('selector')) -%}
    {%- if step == 'create_schema' -%}
        create schema if not exists {{ log.include(database=false, identifier=false) }}
    {%- elif step == 'create_table' -%}
        create table if not exists {{ log }} (
            invocation_id varchar(36) not null,
            command varchar(20) not null,
            started_at timestamptz not null,
            finished_at timestamptz,
            full_refresh boolean not null,
            whole_project boolean not null,
            tests_run integer,
            tests_failed integer,
            is_clean boolean not null
        )
    {%- elif step == 'insert' -%}
        insert into {{ log }}
            (invocation_id, command, started_at, full_refresh, whole_project, is_clean)
        values (
            '{{ invocation_id }}', '{{ flags.WHICH }}', {{ dbt.current_timestamp() }},
            {{ 'true' if flags.FULL_REFRESH else 'false' }},
            {{ 'true' if whole_project else 'false' }}, false
        )
    {%- else -%}
        {%- do exceptions.raise_compiler_error("record_invocation_start: unknown step " ~ step) -%}
    {%- endif -%}
{%- endmacro %}


{#- on-run-end: a run is clean when it tested the whole project and nothing in it failed,
    errored or was skipped (warnings are clean: they are accepted findings). -#}
{% macro record_invocation_end(results) -%}
    {%- set tests = results | selectattr('node.resource_type', 'in', ['test', 'unit_test'])
        | list -%}
    {%- set failed = tests | selectattr('status', 'in', ['fail', 'error']) | list -%}
    {%- set broken = results | selectattr('status', 'in', ['error', 'fail', 'skipped'])
        | list -%}
    update {{ invocation_log() }}
    set finished_at = {{ dbt.current_timestamp() }},
        tests_run = {{ tests | length }},
        tests_failed = {{ failed | length }},
        is_clean = whole_project and {{ 'true' if (flags.WHICH in ['build', 'test']
            and tests and not broken) else 'false' }}
    where invocation_id = '{{ invocation_id }}'
{%- endmacro %}


{#- Whether a full batch replaced the staging table since `since` (then any key may have gone
    without a tombstone, and a scoped singular test compares every key instead). -#}
{% macro staging_replaced_since(table_name, since, source_name='jlr_ops') -%}
    {%- if not scope_reads_database() -%}
        {%- do return(false) -%}
    {%- endif -%}
    {%- do return(staging_replaced_after(table_name, since, inclusive=true,
        source_name=source_name)) -%}
{%- endmacro %}


{#- Whether a singular test may read the warehouse while it is compiled: only when it runs in a
    command that ran the project's hooks (build, test), so the run log exists; a compile (or
    the linter) renders the scope as SQL instead. -#}
{% macro scope_reads_database() -%}
    {%- do return(execute and flags.WHICH in ['build', 'test']) -%}
{%- endmacro %}
