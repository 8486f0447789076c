"""Schema drift end to end: between two runs the source adds a column, widens a VARCHAR, turns
an INT into a BIGINT and drops a column. The pipeline evolves staging where the policy allows
(new column, longer VARCHAR, dropped column kept and NULL from then on), stops the one table
whose change it refuses (INT -> BIGINT) touching nothing, and reconcile checks the rest."""

from __future__ import annotations

import time

from ingestion.config.source import load_source
from ingestion.lake.storage import open_lake
from ingestion.pipeline import run_ingest
from ingestion.reconcile import reconcile
from ingestion.source.mysql import connect
from ingestion.warehouse.postgres import pg_connect

CONFIG = """name: drift
database: {database}
warehouse_schema: drift_staging
tables:
  parts:
    mode: incremental
    cursor: updated_at
  stock:
    mode: full
"""


def source(settings, *statements):
    with connect(settings.mysql, settings.mysql.database) as conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def staging(settings, query, params=()):
    with pg_connect(settings.postgres) as conn:
        return conn.execute(query, params).fetchall()


def columns(settings, table):
    return dict(
        staging(
            settings,
            "select column_name, coalesce(character_maximum_length::text, data_type) "
            "from information_schema.columns where table_schema = 'drift_staging' "
            "and table_name = %s",
            (table,),
        )
    )


def test_schema_drift_evolves_or_stops_per_the_policy(settings, tmp_path):
    database = settings.mysql.database
    source(
        settings,
        "create table parts (id int primary key, name varchar(10), grade varchar(5), "
        "updated_at datetime(6) not null default current_timestamp(6))",
        "insert into parts (id, name, grade, updated_at) values "
        "(1, 'bolt', 'a', now(6) - interval 1 minute), (2, 'nut', 'b', now(6) - interval 1 minute)",
        "create table stock (id int primary key, qty int, bin varchar(8))",
        "insert into stock values (1, 10, 'A1'), (2, 20, 'B2')",
    )
    path = tmp_path / "drift.yml"
    path.write_text(CONFIG.format(database=database))
    config = load_source(path)
    lake = open_lake(settings.lake_uri)
    runs = run_ingest(config, settings, database, ["parts", "stock"])
    assert [r.status for r in runs] == ["ok", "ok"], [r.error for r in runs]
    assert columns(settings, "parts")["name"] == "10"  # characters (Redshift: 40 bytes)

    # the drift: parts gains a column, a longer name and loses grade; stock's qty grows
    source(
        settings,
        "alter table parts add column colour varchar(12), modify name varchar(30), "
        "drop column grade",
        "update parts set name = 'hexagon-headed bolt', colour = 'zinc', updated_at = now(6) "
        "where id = 1",
        "insert into parts (id, name, colour, updated_at) values (3, 'washer', 'brass', now(6))",
        "alter table stock modify qty bigint",
        "update stock set qty = 5000000000 where id = 1",
    )
    time.sleep(config.tables["parts"].safety_lag_seconds + 1)  # the changes leave the lag window
    runs = {r.table: r for r in run_ingest(config, settings, database, ["parts", "stock"])}

    parts = runs["parts"]
    assert parts.status == "ok" and parts.loaded == 2, parts.error
    after = columns(settings, "parts")
    assert after["name"] == "30" and after["colour"] == "12"  # widened in place; added
    assert "grade" in after  # a dropped column stays: its history is kept, NULL from now on
    rows = staging(settings, "select id, name, colour, grade from drift_staging.parts order by 1")
    assert rows == [
        (1, "hexagon-headed bolt", "zinc", None),
        (2, "nut", None, "b"),
        (3, "washer", "brass", None),
    ]

    stock = runs["stock"]
    assert stock.status == "failed"
    assert "stock.qty: staging column is integer but the batch brings bigint" in stock.error
    assert "FULL_REFRESH=1" in stock.error  # says what to do
    assert staging(settings, "select id, qty from drift_staging.stock order by 1") == [
        (1, 10),
        (2, 20),
    ]  # untouched

    # reconcile agrees for the evolved table; the stopped one is reported as different
    results = {r.table: r for r in reconcile(config, settings, database, lake, ["parts", "stock"])}
    assert results["parts"].equal, results["parts"].as_dict()
    assert results["stock"].columns_differing == ["qty"]
