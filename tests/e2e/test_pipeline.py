"""The whole local pipeline on real MariaDB, Spark and PostgreSQL, then dbt on the result."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ingestion.cli import DEFAULT_SOURCE
from ingestion.config.settings import REPO_ROOT
from ingestion.config.source import load_source
from ingestion.demo.changes import apply_changes
from ingestion.demo.generator import seed_database
from ingestion.lake.storage import open_lake
from ingestion.pipeline import run_ingest
from ingestion.source.mysql import connect, quote_ident
from ingestion.warehouse.postgres import pg_connect, staging_row_counts
from tests.openlineage_spec import event_errors, read_events

DBT = Path(sys.executable).parent / "dbt"
CHROMIUM = os.environ.get("JLR_CHROMIUM", "/usr/bin/chromium")  # Debian's, installed by setup


def source_counts(settings, tables):
    """Rows per source table, rows the curate job must quarantine, live sales orders."""
    with connect(settings.mysql, settings.mysql.database) as conn, conn.cursor() as cur:
        counts = {}
        for table in tables:
            cur.execute(f"select count(*) from {quote_ident(table)}")
            counts[table] = cur.fetchone()[0]
        cur.execute("select count(*) from customers where marketing_opt_in not in (0, 1)")
        bad = {"customers": cur.fetchone()[0]}
        cur.execute("select count(*) from sales_orders where deleted_at is null")
        return counts, bad, cur.fetchone()[0]


def expected_staging(counts, bad):
    return {t: n - bad.get(t, 0) for t, n in counts.items()}


def warehouse(settings, query, params=None):
    with pg_connect(settings.postgres) as conn:
        return conn.execute(query, params).fetchall()


def dbt(settings, tmp_path, *args, lineage=False):
    """dbt on the test's warehouse; ``lineage``: through ``python -m ingestion dbt``, which
    sends OpenLineage events (to the settings' lineage directory)."""
    env = {**os.environ, **settings.to_env(), "DBT_TARGET": "local"}
    command = [sys.executable, "-m", "ingestion", "dbt"] if lineage else [str(DBT)]
    return subprocess.run(
        [
            *command,
            *args,
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_source_to_marts(settings, tmp_path):
    lineage_dir = tmp_path / "lineage"
    settings = replace(settings, options={**settings.options, "JLR_LINEAGE_DIR": str(lineage_dir)})
    config = load_source(DEFAULT_SOURCE)
    tables = list(config.tables)
    database = settings.mysql.database
    seed_database(settings.mysql, database, 0.002, 42)

    runs = run_ingest(config, settings, database, tables)
    assert [(r.table, r.status) for r in runs] == [(t, "ok") for t in tables], [
        (r.table, r.error) for r in runs
    ]
    expected, bad, _ = source_counts(settings, tables)
    assert {r.table: r.extracted for r in runs} == expected
    assert {r.table: r.rejected for r in runs} == {t: bad.get(t, 0) for t in tables}
    assert bad["customers"] > 0  # the planted TINYINT(1) holding 2
    staging = staging_row_counts(settings.postgres, config.warehouse_schema, tables)
    assert staging == expected_staging(expected, bad)
    by_table = {r.table: r for r in runs}
    assert by_table["sales_orders"].zero_dates > 0  # '0000-00-00' arrived as null, counted
    assert all(r.curated == r.loaded and r.duplicates == 0 for r in runs)
    lake = open_lake(settings.lake_uri)
    (reject_file,) = lake.list("rejects/jlr_ops/customers/", ".json")
    reasons = [json.loads(line)["reason"] for line in lake.get_bytes(reject_file).splitlines()]
    assert len(reasons) == bad["customers"]
    assert all("marketing_opt_in: value 2 is not a valid boolean" in r for r in reasons)
    # curated sales orders are partitioned by order month, one file per month (no tiny swarm)
    (manifest_key,) = lake.list("curated/jlr_ops/sales_orders/", "_manifest.json")
    files = [f["key"] for f in lake.get_json(manifest_key)["files"]]
    months = {re.search(r"/order_date_month=(\d{4}-\d{2})/", f).group(1) for f in files}
    assert len(files) == len(months) > 12
    hashes = warehouse(settings, "select email, phone from jlr_ops_staging.customers")
    assert all(v is None or re.fullmatch(r"[0-9a-f]{64}", v) for row in hashes for v in row)

    first_build = dbt(settings, tmp_path, "build", lineage=True)
    assert first_build.returncode == 0, first_build.stdout[-3000:]
    check_openlineage_events(settings, lineage_dir, config, tables)

    # Three days of inserts, updates (some not touching updated_at), soft and hard deletes, a
    # rolled-back transaction and one bulk transaction. Changing tables are cdc: only the rows
    # the binlog names travel, hard deletes as tombstones; staging must mirror the source.
    changes = apply_changes(settings.mysql, database, 3)
    assert changes["orders fixed without updated_at"] > 0
    assert changes["rows in a rolled-back transaction"] > 0
    assert changes["vehicles in one bulk transaction"] > 0
    moved_vin = plant_order_moves(settings, database)
    time.sleep(max(t.safety_lag_seconds for t in config.tables.values()) + 1)  # let the lag pass
    runs = run_ingest(config, settings, database, tables)
    assert all(r.status == "ok" for r in runs), [(r.table, r.error) for r in runs]
    by_table = {r.table: r for r in runs}
    assert by_table["sales_orders"].mode == "cdc"
    assert by_table["sales_orders"].extracted < expected["sales_orders"] / 4
    assert by_table["sales_orders"].deletes_applied == changes["orders hard-deleted"] + 1
    assert by_table["vehicles"].extracted >= changes["vehicles in one bulk transaction"]
    assert by_table["plants"].mode == "full"
    expected, bad, live_orders = source_counts(settings, tables)
    staging = staging_row_counts(settings.postgres, config.warehouse_schema, tables)
    assert staging == expected_staging(expected, bad)
    assert warehouse(
        settings,
        "select count(*), count(distinct manifest_key) from ops.load_audit where status = 'loaded'",
    ) == [(18, 18)]

    # The second build is incremental: only the changed orders travel, deletes are honoured,
    # and every test (the "fact equals live orders" one included) still passes.
    build = dbt(settings, tmp_path, "build")
    assert build.returncode == 0, build.stdout[-3000:]
    assert "ERROR=0" in build.stdout and "WARN=0" in build.stdout
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())
    merged = next(r for r in results["results"] if r["unique_id"].endswith(".fct_vehicle_sales"))
    assert 0 < merged["adapter_response"]["rows_affected"] < live_orders / 4
    assert warehouse(settings, "select count(*) from analytics_marts.fct_vehicle_sales") == [
        (live_orders,)
    ]
    orphans = warehouse(
        settings,
        "select count(*) from analytics_marts.fct_vehicle_sales "
        "where dealer_id = -1 and source_dealer_id <> -1",
    )
    assert orphans[0][0] > 0  # closed dealers' sales kept, attributed to the unknown dealer
    versions = warehouse(
        settings, "select count(*) - count(distinct customer_id) from analytics_marts.dim_customer"
    )
    assert versions[0][0] > 0  # customers changed by `changes` have a second version

    check_service_starts_follow_order_moves(settings, config.warehouse_schema, moved_vin)
    check_test_scope(settings, tmp_path)
    check_singular_test_scope(settings, tmp_path, config.warehouse_schema)
    check_views_are_replaced_only_when_their_definition_changed(settings, tmp_path, results)
    check_contracts_stop_a_type_change(settings, tmp_path)
    check_primary_key_test_finds_null_and_repeated_keys(settings, tmp_path)
    check_scoped_key_test_finds_a_key_shared_with_an_unchanged_row(settings, tmp_path)
    check_a_full_reload_rebuilds_the_incremental_marts(settings, tmp_path, config, database)
    check_the_marts_equal_a_full_refresh(settings, tmp_path)

    docs = dbt(settings, tmp_path, "docs", "generate", "--static")
    assert docs.returncode == 0, docs.stdout[-2000:]
    catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    undocumented = [
        f"{node['metadata']['name']}.{column}"
        for key, node in catalog["nodes"].items()
        if key.startswith("model.")
        for column in node["columns"]
        if not manifest["nodes"][key]["columns"].get(column, {}).get("description")
    ]
    assert undocumented == []  # every column the warehouse holds is described

    check_column_lineage(settings, tmp_path, catalog)

    static = f"file://{tmp_path / 'target' / 'static_index.html'}"
    check_docs_site(static, tmp_path / "static", settings.mysql.database)
    with docs_server(settings, tmp_path) as url:
        check_docs_site(url, tmp_path / "served", settings.mysql.database)


def check_openlineage_events(settings, lineage_dir, config, tables):
    """The first ingest and build sent OpenLineage events: every one valid against the spec's
    JSON Schemas; each table's extract, curate and load a START then a COMPLETE under the
    ingest's run; and the datasets chain by name from each MySQL table through the raw and
    curated zones and staging to the marts."""
    events = read_events(lineage_dir)
    problems = [(e["job"]["name"], p) for e in events for p in event_errors(e)]
    assert problems == []
    by_job: dict[str, list[dict]] = {}
    for event in events:
        by_job.setdefault(event["job"]["name"], []).append(event)
    for table in tables:
        for stage in ("extract", "curate", "load"):
            runs = by_job[f"{config.name}.{table}.{stage}"]
            assert [e["eventType"] for e in runs] == ["START", "COMPLETE"], (table, stage)
            assert len({e["run"]["runId"] for e in runs}) == 1
            assert runs[0]["run"]["facets"]["parent"]["job"]["name"] == f"{config.name}.ingest"
    assert [e["eventType"] for e in by_job["dbt.build"]] == ["START", "COMPLETE"]
    edges: dict[tuple, set[tuple]] = {}
    for event in events:
        if event["eventType"] == "COMPLETE":
            for i in event["inputs"]:
                for o in event["outputs"]:
                    edges.setdefault((i["namespace"], i["name"]), set()).add(
                        (o["namespace"], o["name"])
                    )
    mysql = (
        f"mysql://{settings.mysql.host}:{settings.mysql.port}",
        f"{settings.mysql.database}.sales_orders",
    )
    chain, seen, todo = {}, {mysql}, [mysql]
    while todo:  # breadth first: each dataset reached, with the one it was reached from
        here = todo.pop(0)
        for there in sorted(edges.get(here, ())):
            if there not in seen:
                seen.add(there)
                chain[there] = here
                todo.append(there)
    pg = f"postgres://{settings.postgres.host}:{settings.postgres.port}"
    mart = (pg, f"{settings.postgres.database}.analytics_marts.fct_vehicle_sales")
    assert mart in seen, sorted(seen)
    path, step = [], mart
    while step != mysql:
        path.append(step)
        step = chain[step]
    names = [name for _, name in reversed(path)]
    assert names[0].endswith("/raw/jlr_ops/sales_orders") and names[1].endswith(
        "/curated/jlr_ops/sales_orders"
    ), names
    assert names[2] == f"{settings.postgres.database}.{config.warehouse_schema}.sales_orders"
    assert names[-1] == mart[1]
    (curate,) = [e for e in by_job[f"{config.name}.customers.curate"] if e["outputs"]]
    (email,) = curate["outputs"][0]["facets"]["columnLineage"]["fields"]["email"]["inputFields"]
    assert email["transformations"][0]["masking"] is True  # hashed on the way
    assert email["transformations"][0]["description"] == "trimmed, lowercased, hashed"


def check_column_lineage(settings, tmp_path, catalog):
    """`python -m ingestion lineage` traces every column of every mart, and three columns traced
    by hand come out as they should: a hashed PII column, a currency conversion and an
    aggregate; each mart column's description in the docs site's manifest gains its lineage."""
    target = tmp_path / "target"
    written = subprocess.run(
        [sys.executable, "-m", "ingestion", "lineage", "--target-path", str(target)],
        cwd=REPO_ROOT,
        env={**os.environ, **settings.to_env()},
        capture_output=True,
        text=True,
        check=False,
    )
    assert written.returncode == 0, written.stderr[-2000:]
    lineage = json.loads((target / "column_lineage.json").read_text())
    marts = {
        key: set(node["columns"])
        for key, node in catalog["nodes"].items()
        if key.startswith("model.") and node["metadata"]["schema"].endswith("marts")
    }
    assert len(marts) == 11
    assert {key: set(columns) for key, columns in lineage.items()} == marts
    assert all(origins for columns in lineage.values() for origins in columns.values())
    db = settings.mysql.database

    def origins(mart, column):
        return {
            (o["origin"], o["source"], o["column"]): o
            for o in lineage[f"model.jlr_analytics.{mart}"][column]
        }

    # hashed PII: the MySQL email, trimmed, lowercased and hashed by the curate job
    email = origins("dim_customer", "email_hash")
    assert set(email) == {("mysql", f"{db}.customers", "email")}
    (traced,) = email.values()
    assert traced["path"] == [
        "model.jlr_analytics.dim_customer.email_hash",
        "snapshot.jlr_analytics.snap_customers.email_hash",
        "model.jlr_analytics.int_customers_pseudonymised.email_hash",
        "model.jlr_analytics.stg_jlr_ops__customers.email_hash",
        "source.jlr_analytics.jlr_ops.customers.email",
        f"mysql.{db}.customers.email",
    ]
    assert traced["transforms"][-1]["kinds"] == ["trimmed", "lowercased", "hashed"]
    assert traced["transforms"][-2]["kinds"] == ["renamed"]  # email -> email_hash in staging

    # currency conversion: the order's net price over the seed's rate of its currency
    gbp = origins("fct_vehicle_sales", "net_price_gbp")
    assert set(gbp) == {
        ("mysql", f"{db}.sales_orders", "net_price"),
        ("seed", "seed.currency_rates", "units_per_gbp"),
    }
    converted = gbp[("mysql", f"{db}.sales_orders", "net_price")]["transforms"][1]
    assert converted["at"] == "model.jlr_analytics.int_sales_orders_resolved"
    assert converted["kinds"] == ["cast", "derived"] and "units_per_gbp" in converted["sql"][0]
    rate = gbp[("seed", "seed.currency_rates", "units_per_gbp")]["transforms"][1]
    assert "looked up" in rate["kinds"]

    # an aggregate: a month's revenue sums the net prices of the orders not cancelled
    revenue = origins("dealer_performance_monthly", "revenue_gbp")
    assert {
        ("mysql", f"{db}.sales_orders", "net_price"),
        ("mysql", f"{db}.sales_orders", "status"),
    } <= set(revenue)
    summed = revenue[("mysql", f"{db}.sales_orders", "net_price")]["transforms"][0]
    assert summed["at"] == "model.jlr_analytics.dealer_performance_monthly"
    assert "aggregated" in summed["kinds"]
    counted = origins("dealer_performance_monthly", "orders_placed")
    assert set(counted) == {("mysql", f"{db}.sales_orders", "*")}  # count(*): rows of orders

    manifest = json.loads((target / "manifest.json").read_text())
    text = manifest["nodes"]["model.jlr_analytics.fct_vehicle_sales"]["columns"]["net_price_gbp"]
    assert f"`{db}.sales_orders.net_price` (MySQL)" in text["description"]


def check_a_full_reload_rebuilds_the_incremental_marts(settings, tmp_path, config, database):
    """Every order loaded again (FULL_REFRESH=1, or staging reset by `make seed`): the fact's
    pre-hook removes every row, and the build must then insert every live order again rather
    than compare with the newest change of an empty table (null, which matched nothing)."""
    runs = run_ingest(config, settings, database, ["sales_orders"], full_refresh=True)
    assert [(r.table, r.mode, r.status) for r in runs] == [("sales_orders", "full", "ok")]
    build = dbt(settings, tmp_path, "build", "--select", "+fct_vehicle_sales+")
    assert build.returncode == 0, build.stdout[-3000:]
    _, _, live_orders = source_counts(settings, list(config.tables))
    assert warehouse(settings, "select count(*) from analytics_marts.fct_vehicle_sales") == [
        (live_orders,)
    ]


def mart_contents(settings) -> dict[str, tuple]:
    """Rows and an order-independent checksum of every row, per table of the marts schema."""
    with pg_connect(settings.postgres) as conn:
        marts = [
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = "
                "'analytics_marts' and table_type = 'BASE TABLE' order by 1"
            )
        ]
        return {
            mart: conn.execute(
                f"select count(*), sum(hashtext(t::text)::bigint) from analytics_marts.{mart} t"
            ).fetchone()
            for mart in marts
        }


def check_the_marts_equal_a_full_refresh(settings, tmp_path):
    """What the incremental builds left equals what a full refresh builds from the same staging,
    mart by mart, row by row. An ordinary run first: the checks before reloaded staging's orders
    and rebuilt only the fact."""
    run = dbt(settings, tmp_path, "run", "--exclude", "path:models/marts/ops")
    assert run.returncode == 0, run.stdout[-3000:]
    built = mart_contents(settings)
    assert len(built) >= 8 and all(rows > 0 for rows, _ in built.values()), built
    with pg_connect(settings.postgres) as conn:
        conn.execute("create schema kept_marts")
        for mart in built:
            conn.execute(f"create table kept_marts.{mart} as table analytics_marts.{mart}")
    run = dbt(settings, tmp_path, "run", "--full-refresh", "--exclude", "path:models/marts/ops")
    assert run.returncode == 0, run.stdout[-3000:]
    rebuilt = mart_contents(settings)
    differ = {}
    for mart in (m for m in built if rebuilt.get(m) != built[m]):
        differ[mart] = warehouse(
            settings,
            f"(select 'incremental' as side, * from (table kept_marts.{mart} except "
            f"table analytics_marts.{mart}) a limit 3) union all (select 'full refresh', * "
            f"from (table analytics_marts.{mart} except table kept_marts.{mart}) b limit 3)",
        )
    with pg_connect(settings.postgres) as conn:
        conn.execute("drop schema kept_marts cascade")
    assert differ == {}, repr(differ)


def check_views_are_replaced_only_when_their_definition_changed(settings, tmp_path, results):
    """macros/view_materialization.sql: the incremental build kept every view (their SQL is
    unchanged); a view whose stored definition differs from the model's is replaced, with the
    views on it, and --full-refresh replaces it anyway."""
    nodes = json.loads((tmp_path / "target" / "manifest.json").read_text())["nodes"]
    views = {
        r["unique_id"]: r["message"]
        for r in results["results"]
        if r["unique_id"].startswith("model.")
        and nodes[r["unique_id"]]["config"]["materialized"] == "view"
    }
    assert len(views) == 16 and set(views.values()) == {"SELECT 1"}, views  # all kept
    view = "analytics_staging.stg_jlr_ops__plants"  # int_vehicles_described selects from it
    select = ["--select", "stg_jlr_ops__plants", "int_vehicles_described"]

    def shape():
        with pg_connect(settings.postgres) as conn:
            found = conn.execute(f"select * from {view} limit 0").description
        return [(c.name, c.type_code) for c in found]

    def messages(run):
        assert run.returncode == 0, run.stdout[-2000:]
        found = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
        return [r["message"] for r in found if r["unique_id"].startswith("model.")]

    columns = shape()
    with pg_connect(settings.postgres) as conn:
        conn.execute(f"drop view {view} cascade")  # and the view on it
        conn.execute(f"create view {view} as select 1 as stale")
    assert messages(dbt(settings, tmp_path, "run", *select)) == ["CREATE VIEW"] * 2
    assert shape() == columns
    assert messages(dbt(settings, tmp_path, "run", *select)) == ["SELECT 1"] * 2
    full = dbt(settings, tmp_path, "run", *select, "--full-refresh")
    assert messages(full) == ["CREATE VIEW"] * 2
    leftovers = warehouse(
        settings, "select relname from pg_class where relname ~ '(__dbt_(tmp|backup)$|^dbt_probe_)'"
    )
    assert leftovers == []  # no probe, intermediate or backup view left behind


def plant_order_moves(settings, database) -> str:
    """Two changes the demo's day never makes: a delivered order moved to another vehicle and
    a delivered order hard-deleted. Staging then no longer says which vehicles those orders
    had; the incremental build must still recompute both vehicles. Returns the VIN moved from."""
    with connect(settings.mysql, database) as conn, conn.cursor() as cur:
        cur.execute(
            "select order_id, vin from sales_orders where status = 'delivered' "
            "and deleted_at is null order by order_id limit 2"
        )
        (moved, moved_from), (dropped, _) = cur.fetchall()
        cur.execute("select vin from vehicles where vin <> %s order by vin limit 1", (moved_from,))
        (moved_to,) = cur.fetchone()
        cur.execute(
            "update sales_orders set vin = %s, updated_at = utc_timestamp(6) where order_id = %s",
            (moved_to, moved),
        )
        cur.execute("delete from sales_orders where order_id = %s", (dropped,))
        conn.commit()
    return moved_from


def check_service_starts_follow_order_moves(settings, staging_schema, moved_from):
    """After the incremental build, every vehicle's service start equals what staging's orders
    say now (the moved and deleted orders' vehicles included), and the pair the moved order left
    is remembered."""
    from_staging = (
        "select v.vin, s.in_service_on from analytics_marts.dim_vehicle v left join ("
        "select vin, min(case when status = 'delivered' and deleted_at is null "
        f"then delivery_date end) as in_service_on from {staging_schema}.sales_orders "
        "group by vin) s on v.vin = s.vin"
    )
    built = "select vin, in_service_on from analytics_marts.dim_vehicle"
    for a, b in ((from_staging, built), (built, from_staging)):
        assert warehouse(settings, f"select count(*) from ({a} except {b}) d") == [(0,)]
    left = warehouse(
        settings,
        "select count(*) from analytics_intermediate.int_sales_order_vehicles "
        "where not is_current and vin = %s",
        [moved_from],
    )
    assert left == [(1,)]


def check_test_scope(settings, tmp_path):
    """Both builds were clean runs of the whole project, so an ordinary build's tests of the large
    models read only rows changed after the second: a bad changed row fails them, an old bad row
    waits for the full scope (--full-refresh or test_scope all), which finds it."""
    log = warehouse(
        settings,
        "select command, full_refresh, tests_run > 95, tests_failed, is_clean "
        "from analytics_ops_marts.dbt_invocations order by started_at",
    )
    assert log == [("build", False, True, 0, True)] * 2
    fact = "analytics_marts.fct_vehicle_sales"
    ((order_id, loaded_at, net_price_gbp),) = warehouse(
        settings,
        f"select order_id, _loaded_at, net_price_gbp from {fact} order by order_id limit 1",
    )
    test = ["test", "--select", "fct_vehicle_sales_amounts_non_negative"]
    with pg_connect(settings.postgres) as conn:
        conn.execute(f"update {fact} set net_price_gbp = -1 where order_id = %s", [order_id])
    try:
        assert_found_by_full_scope_then_once_changed(
            settings,
            tmp_path,
            test,
            f"update {fact} set _loaded_at = now() where order_id = %s",
            order_id,
        )
    finally:
        with pg_connect(settings.postgres) as conn:
            conn.execute(
                f"update {fact} set net_price_gbp = %s, _loaded_at = %s where order_id = %s",
                [net_price_gbp, loaded_at, order_id],
            )


def assert_found_by_full_scope_then_once_changed(settings, tmp_path, test, touch, key):
    """A planted bad row an ordinary build's test does not read (it has not changed since the last
    clean run) fails the test with test_scope all, and the ordinary one once `touch` marks the
    row changed."""
    assert dbt(settings, tmp_path, *test).returncode == 0  # unchanged: not read
    full = dbt(settings, tmp_path, *test, "--vars", "{test_scope: all}")
    assert full.returncode == 1 and "Got 1 result" in full.stdout, full.stdout[-2000:]
    with pg_connect(settings.postgres) as conn:
        conn.execute(touch, [key])
    changed = dbt(settings, tmp_path, *test)
    assert changed.returncode == 1 and "Got 1 result" in changed.stdout, changed.stdout[-2000:]


def check_singular_test_scope(settings, tmp_path, staging_schema):
    """The fact-equals-live-orders test is scoped alike: a sale gone missing for an order that
    has not changed since the last clean run waits for the full scope; once the order changes in
    staging, an ordinary build's test finds it."""
    fact = "analytics_marts.fct_vehicle_sales"
    orders = f"{staging_schema}.sales_orders"
    ((order_id, loaded_at),) = warehouse(
        settings,
        f"select order_id, _loaded_at from {orders} where deleted_at is null "
        "order by order_id limit 1",
    )
    test = ["test", "--select", "assert_vehicle_sales_match_live_orders"]
    with pg_connect(settings.postgres) as conn:
        conn.execute(
            f"create table public.kept_sale as select * from {fact} where order_id = %s", [order_id]
        )
        conn.execute(f"delete from {fact} where order_id = %s", [order_id])
    try:
        assert_found_by_full_scope_then_once_changed(
            settings,
            tmp_path,
            test,
            f"update {orders} set _loaded_at = now() where order_id = %s",
            order_id,
        )
    finally:
        with pg_connect(settings.postgres) as conn:
            conn.execute(
                f"update {orders} set _loaded_at = %s where order_id = %s", [loaded_at, order_id]
            )
            conn.execute(f"insert into {fact} select * from public.kept_sale")
            conn.execute("drop table public.kept_sale")


def check_contracts_stop_a_type_change(settings, tmp_path):
    """The loader refuses type changes other than longer VARCHARs and says to change the staging
    column deliberately; if someone does, the marts' contracts stop the change there."""
    view, table = "analytics_staging.stg_jlr_ops__dealers", "jlr_ops_staging.dealers"
    with pg_connect(settings.postgres) as conn:
        conn.execute(f"drop view {view} cascade")
        conn.execute(f"alter table {table} alter column opened_on type timestamp")
    try:
        run = dbt(settings, tmp_path, "run", "--select", "stg_jlr_ops__dealers", "dim_dealer")
        assert run.returncode == 1
        out = " ".join(run.stdout.split())
        assert "This model has an enforced contract that failed" in out, out[-2000:]
        assert "| opened_on | DATETIME | DATE | data type mismatch |" in out, out[-2000:]
    finally:
        with pg_connect(settings.postgres) as conn:
            conn.execute(f"drop view if exists {view} cascade")
            conn.execute(f"alter table {table} alter column opened_on type date")
        assert dbt(settings, tmp_path, "run", "--select", "staging", "intermediate").returncode == 0


def check_primary_key_test_finds_null_and_repeated_keys(settings, tmp_path):
    """The project's primary_key test (dbt's unique and not_null in one node) fails on either: a
    seed table, which has no constraints of its own, given a second GBP row and a row with no
    currency code; one failing row per bad key value (dbt stores them), saying which problem it
    has."""
    seed = "analytics_reference.currency_rates"
    with pg_connect(settings.postgres) as conn:
        conn.execute(
            f"insert into {seed} select currency_code, units_per_gbp, 'planted' from {seed} "
            "where currency_code = 'GBP' union all select null, 1, 'planted'"
        )
    try:
        test = dbt(
            settings,
            tmp_path,
            "test",
            "--select",
            "primary_key_currency_rates_currency_code",
            "--store-failures",
        )
        out = " ".join(test.stdout.split())
        assert test.returncode == 1 and "Got 2 results" in out, out[-2000:]
        results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
        (failures,) = [r["relation_name"] for r in results if r["unique_id"].startswith("test.")]
        problems = warehouse(
            settings, f"select key_value, rows_with_key, problem from {failures} order by 1"
        )
        assert problems == [("GBP", 2, "repeated key"), (None, 1, "null key")]
    finally:
        with pg_connect(settings.postgres) as conn:
            conn.execute(f"delete from {seed} where rate_basis = 'planted'")


def check_scoped_key_test_finds_a_key_shared_with_an_unchanged_row(settings, tmp_path):
    """Redshift enforces no uniqueness, so the primary_key test is the only guard there: a
    changed row that repeats the key of an unchanged one must fail an ordinary (scoped) build's
    test, although the unchanged row is not among the changed rows it reads. The fact's unique
    index is dropped first (as on Redshift, where there is none), then a copy of an old order is
    planted as just loaded."""
    fact = "analytics_marts.fct_vehicle_sales"
    ((index_name, index_sql),) = warehouse(
        settings,
        "select indexname, indexdef from pg_indexes where schemaname = 'analytics_marts' "
        "and tablename = 'fct_vehicle_sales' and indexdef like 'CREATE UNIQUE%%'",
    )
    ((order_id,),) = warehouse(settings, f"select min(order_id) from {fact}")
    test = ["test", "--select", "primary_key_fct_vehicle_sales_order_id"]
    with pg_connect(settings.postgres) as conn:
        conn.execute(f'drop index analytics_marts."{index_name}"')
        conn.execute(f"insert into {fact} select * from {fact} where order_id = %s", [order_id])
        conn.execute(
            f"update {fact} set _loaded_at = now() where order_id = %s and ctid = "
            f"(select max(ctid) from {fact} where order_id = %s)",
            [order_id, order_id],
        )
    try:
        scoped = dbt(settings, tmp_path, *test)
        out = " ".join(scoped.stdout.split())
        assert scoped.returncode == 1 and "Got 1 result" in out, out[-2000:]
    finally:
        with pg_connect(settings.postgres) as conn:
            conn.execute(
                f"delete from {fact} where order_id = %s and _loaded_at = "
                f"(select max(_loaded_at) from {fact} where order_id = %s)",
                [order_id, order_id],
            )
            conn.execute(index_sql)


@contextmanager
def docs_server(settings, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, **settings.to_env(), "DBT_TARGET": "local"}
    server = subprocess.Popen(
        [str(DBT), "docs", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-browser",
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=10)


def check_docs_site(url: str, shots: Path, mysql_database: str) -> None:
    """Open the docs site in headless Chromium (Debian's, driven by Playwright): a mart's page
    with its description and columns, a column's lineage back to MySQL in its details, then the
    model's lineage graph drawn on the canvas."""
    from playwright.sync_api import sync_playwright

    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url + "#!/model/model.jlr_analytics.fct_vehicle_sales")
        page.wait_for_selector("text=net_price_gbp", timeout=60_000)
        assert page.locator("h1").first.inner_text().startswith("fct_vehicle_sales")
        body = page.inner_text("body")
        assert "One row per live vehicle sale" in body
        for column in ("order_id", "dealer_id", "net_price_gbp", "delivery_lead_days"):
            assert column in body
        page.screenshot(path=str(shots / "fct_vehicle_sales.png"))
        page.click("text=net_price_gbp")  # the column's details: description and lineage
        origin = f"{mysql_database}.sales_orders.net_price (MySQL)"
        page.locator("li:visible", has_text=origin).first.wait_for(timeout=10_000)
        details = page.inner_text("body")
        assert "Lineage" in details
        assert "int_sales_orders_resolved.net_price_gbp (cast, derived)" in details
        assert "currency_rates.units_per_gbp (dbt seed)" in details
        page.screenshot(path=str(shots / "fct_vehicle_sales-net_price_gbp.png"))
        page.click('a[title="View Lineage Graph"]')
        page.wait_for_selector(".launcher.on canvas", state="attached", timeout=30_000)
        page.wait_for_timeout(1500)  # the graph lays itself out
        selector = page.locator(".launcher.on input").first.input_value()
        assert selector == "+fct_vehicle_sales+"
        drawn = page.evaluate(
            """() => [...document.querySelectorAll('.launcher.on canvas')].map(c => {
                 const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
                 return n; })"""
        )
        assert max(drawn) > 500  # nodes and edges were painted
        page.screenshot(path=str(shots / "fct_vehicle_sales-lineage.png"))
        browser.close()
    assert (shots / "fct_vehicle_sales-lineage.png").stat().st_size > 10_000
