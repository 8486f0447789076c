"""The whole local pipeline on real MariaDB, Spark and PostgreSQL, then dbt on the result."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from ingestion.cli import DEFAULT_SOURCE
from ingestion.config import load_source
from ingestion.demo.changes import apply_changes
from ingestion.demo.generator import seed_database
from ingestion.lake import open_lake
from ingestion.mysql_source import connect, quote_ident
from ingestion.pipeline import run_ingest
from ingestion.settings import REPO_ROOT
from ingestion.warehouse_postgres import pg_connect, staging_row_counts

DBT = Path(sys.executable).parent / "dbt"


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


def warehouse(settings, query):
    with pg_connect(settings.postgres) as conn:
        return conn.execute(query).fetchall()


def dbt(settings, tmp_path, *args):
    env = {**os.environ, **settings.to_env(), "DBT_TARGET": "local"}
    return subprocess.run(
        [
            str(DBT),
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

    # A day of inserts, updates and (soft and hard) deletes. Changing tables are incremental:
    # only changed rows travel, hard deletes as tombstones; staging must mirror the source.
    changes = apply_changes(settings.mysql, database, 1)
    time.sleep(max(t.safety_lag_seconds for t in config.tables.values()) + 1)  # let the lag pass
    runs = run_ingest(config, settings, database, tables)
    assert all(r.status == "ok" for r in runs), [(r.table, r.error) for r in runs]
    by_table = {r.table: r for r in runs}
    assert by_table["sales_orders"].mode == "incremental"
    assert by_table["sales_orders"].extracted < expected["sales_orders"] / 4
    assert by_table["sales_orders"].deletes_applied == changes["orders hard-deleted"]
    assert by_table["plants"].mode == "full"
    expected, bad, live_orders = source_counts(settings, tables)
    staging = staging_row_counts(settings.postgres, config.warehouse_schema, tables)
    assert staging == expected_staging(expected, bad)
    assert warehouse(
        settings,
        "select count(*), count(distinct manifest_key) from ops.load_audit where status = 'loaded'",
    ) == [(18, 18)]

    build = dbt(settings, tmp_path, "build")
    assert build.returncode == 0, build.stdout[-3000:]
    assert "ERROR=0" in build.stdout and "WARN=0" in build.stdout
    assert warehouse(settings, "select count(*) from analytics_marts.fct_vehicle_sales") == [
        (live_orders,)
    ]
    orphans = warehouse(
        settings,
        "select count(*) from analytics_marts.fct_vehicle_sales "
        "where dealer_id = -1 and source_dealer_id <> -1",
    )
    assert orphans[0][0] > 0  # closed dealers' sales kept, attributed to the unknown dealer

    docs = dbt(settings, tmp_path, "docs", "generate", "--static")
    assert docs.returncode == 0, docs.stdout[-2000:]
    page = (tmp_path / "target" / "static_index.html").read_text()
    assert "fct_vehicle_sales" in page and "dim_dealer" in page
