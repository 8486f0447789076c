"""Discovery on a database the project did not design: the written source file loads every table
it lists, unedited, and says what it left out and why."""

from __future__ import annotations

import os

import yaml

from ingestion.config.source import load_source
from ingestion.source.discover import DiscoveredTable, Discovery, render, scalar
from ingestion.source.mysql import connect
from ingestion.warehouse.postgres import pg_connect
from tests.ingestion.test_cli import run_cli

SCHEMA = [
    "create table orders (id int primary key, placed_at datetime not null, note varchar(20), "
    "updated_at timestamp not null default current_timestamp on update current_timestamp)",
    "insert into orders (id, placed_at, note) values (1, '2024-01-02 03:04:05', '  kept as is '), "
    "(2, '2024-02-03 04:05:06', null)",
    "create table lookup (code varchar(5) primary key, label varchar(40))",
    "insert into lookup values ('A', 'alpha'), ('B', 'beta')",
    "create table flags (id int primary key, f tinyint(1))",
    "insert into flags values (1, 0), (2, 1), (3, 5)",
    "create table audit_log (at int, msg varchar(50))",
    "insert into audit_log values (1, 'x'), (1, 'x'), (2, null)",
    "create table event_log (at datetime(6) not null, msg varchar(50))",
    "insert into event_log values ('2024-01-01 00:00:00', 'a'), ('2024-01-01 00:00:00', 'a')",
    "create table sites (id int primary key, location point)",
    "insert into sites values (1, ST_GeomFromText('POINT(-1.5 52.25)', 4326)), (2, null)",
    "create table tmp_scratch (id int primary key)",
    "create view v_orders as select id, note from orders",
]


def test_discover_writes_a_file_that_loads_every_table_unedited(settings, tmp_path):
    database = settings.mysql.database
    with connect(settings.mysql, database) as conn, conn.cursor() as cur:
        for statement in SCHEMA:
            cur.execute(statement)
    env = {**os.environ, **settings.to_env()}
    out = tmp_path / "discovered.yml"
    found = run_cli("discover", "--database", database, "--exclude", "tmp_*", "--out", str(out),
                    env=env)  # fmt: skip
    assert found.returncode == 0, found.stdout + found.stderr
    text = out.read_text()
    config = load_source(out)
    # views are left out; keyless tables are copied whole, spatial columns as geometry
    assert list(config.tables) == ["audit_log", "event_log", "flags", "lookup", "orders", "sites"]
    orders = config.tables["orders"]
    assert (orders.mode, orders.cursor, orders.hard_deletes) == ("incremental", "updated_at", True)
    assert config.tables["lookup"].mode == "full" and config.database == database
    assert config.tables["audit_log"].mode == "full" and not config.tables["audit_log"].primary_key
    assert "audit_log:  # about" in text and "no primary key: every run copies" in text
    assert "# location: spatial" in text
    assert "binlog allows `mode: cdc`" in text  # the local server runs with the binlog on
    assert "#   v_orders: a view" in text and "tmp_scratch" not in text
    assert "# f: TINYINT(1) holding values other than 0 and 1" in text
    assert config.tables["flags"].column_types == {"f": "integer"}  # so no row is quarantined
    assert yaml.safe_load(text)["tables"]["flags"]["primary_key"] == ["id"]

    again = run_cli("discover", "--database", database, "--out", str(out), env=env)
    assert again.returncode == 1 and "exists: pass --force" in " ".join(again.stderr.split())

    # the file's database wins over JLR_MYSQL_DATABASE (which `source .venv/bin/activate` sets)
    elsewhere = {**env, "JLR_MYSQL_DATABASE": "jlr_ops"}
    ingested = run_cli("ingest", "--source", str(out), env=elsewhere)
    assert ingested.returncode == 0, ingested.stdout[-3000:] + ingested.stderr[-2000:]
    reconciled = run_cli("reconcile", "--source", str(out), env=elsewhere)
    assert reconciled.returncode == 0, reconciled.stdout[-3000:] + reconciled.stderr[-2000:]
    schema = config.warehouse_schema
    assert staged(settings, schema, "audit_log") == [(1, "x"), (1, "x"), (2, None)]  # data
    assert staged(settings, schema, "flags", "id, f") == [(1, 0), (2, 1), (3, 5)]

    # keyless rows are compared as a multiset: one of two identical rows lost is a difference
    with pg_connect(settings.postgres) as conn:
        conn.execute(
            f"delete from {schema}.audit_log where ctid = (select min(ctid) from "  # noqa: S608
            f"{schema}.audit_log where at = 1)"
        )
    lost = run_cli("reconcile", "--source", str(out), env=elsewhere)
    assert lost.returncode == 1 and "audit_log" in lost.stdout, lost.stdout[-3000:]


def staged(settings, schema: str, table: str, columns: str = "at, msg") -> list[tuple]:
    with pg_connect(settings.postgres) as conn:
        return conn.execute(
            f"select {columns} from {schema}.{table} order by 1, 2"  # noqa: S608
        ).fetchall()


def test_any_name_is_written_so_yaml_reads_it_back_as_it_is(tmp_path):
    names = ["plain", "yes", "null", "on", "1e3", "2019", "Order Lines", 'q"u\'o`te', "a: b",
             "#hash", "订单", "- dash", "line\nbreak", "[x]", "*"]  # fmt: skip
    assert scalar("plain") == "plain" and scalar("yes") == '"yes"'
    tables = [DiscoveredTable(n, 1, primary_key=[n], cursor=n, notes={n: "a note"}) for n in names]
    tables.append(DiscoveredTable("left\nout", 1, skipped="'left\nout' and 'x' meet"))
    text = render(Discovery("Shop DB", tables, ["view\nname"]), "shop", "shop_staging")
    path = tmp_path / "odd.yml"
    path.write_text(text)
    config = load_source(path)  # a valid source file
    assert list(config.tables) == names and config.database == "Shop DB"
    assert all(config.tables[n].primary_key == [n] == [config.tables[n].cursor] for n in names)
    assert "#   \"left\\nout\": 'left\\nout' and 'x' meet" in text  # comments stay comments
    assert "    # staging table: shop_staging.order_lines" in text
