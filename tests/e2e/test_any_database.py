"""A database the project did not design, as a new user meets it: every column type MariaDB
offers and the attributes that change how the server renders a value, awkward names, a keyless
table with duplicate rows, an append-only log and a column to leave out. ``discover`` writes the
source file, ``ingest`` loads it unedited, ``reconcile`` finds every table equal; spatial and
network values are checked at both ends. A second source lands in the same lake and warehouse
beside it, and both reconcile."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from ingestion.source.mysql import connect, quote_ident
from ingestion.warehouse.postgres import pg_connect
from tests.ingestion.test_cli import run_cli

SPATIAL = [
    ("g", "geometry", "ST_GeomFromText('POINT(1.5 -2.25)')"),
    ("pt", "point ref_system_id=4326", "ST_GeomFromText('POINT(-1.4701 52.3865)', 4326)"),
    ("ls", "linestring", "ST_GeomFromText('LINESTRING(0 0, 10 10, 20 25)', 27700)"),
    ("poly", "polygon",
     "ST_GeomFromText('POLYGON((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1))')"),
    ("mpt", "multipoint", "ST_GeomFromText('MULTIPOINT(0 0, 1 1)', 4326)"),
    ("mls", "multilinestring", "ST_GeomFromText('MULTILINESTRING((0 0, 1 1), (2 2, 3 5))')"),
    ("mpoly", "multipolygon", "ST_GeomFromText('MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)))')"),
    ("gc", "geometrycollection",
     "ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1), LINESTRING(0 0, 1 2))')"),
]  # fmt: skip
NETWORK = [
    ("ip4", "inet4", ["'0.0.0.0'", "'255.255.255.255'"]),
    ("ip6", "inet6", ["'::'", "'2001:db8::ff00:42:8329'", "'::ffff:192.0.2.128'"]),
    ("id_uuid", "uuid", ["'00000000-0000-0000-0000-000000000000'",
                         "'123e4567-e89b-12d3-a456-426614174000'"]),
]  # fmt: skip

EVERY_TYPE = f"""
create table every_type (
    id int primary key,
    ti tinyint, tiz tinyint zerofill, siz smallint(5) zerofill, miz mediumint zerofill,
    iz int(10) zerofill, biz bigint zerofill, small_number tinyint(1), flag bool,
    d10 decimal(10,2), d65 decimal(65,30), f float, d double, b1 bit(1), b64 bit(64),
    y year, dt date, dtt datetime(6), ts timestamp(6) null, tm time(6),
    c char(5), vc varchar(300), ttx tinytext, tx text, mtx mediumtext, ltx longtext,
    bn binary(3), vb varbinary(8), tbl tinyblob, bl blob, mbl mediumblob, lbl longblob,
    en enum('a', 'b c', 'ü'), st set('x', 'y', 'z'), js json,
    {", ".join(f"{n} {t}" for n, t in [(n, t) for n, t, _ in SPATIAL])},
    {", ".join(f"{n} {t}" for n, t, _ in NETWORK)}
)
"""
ROWS = [
    # the low edges, zero dates and zero-in-date values, YEAR 0, JSON's own null
    "(1, -128, 0, 0, 0, 0, 0, -128, 0, -99999999.99, "
    "'-99999999999999999999999999999999999.999999999999999999999999999999', -3.40282e38, "
    "-1.7976931348623157e308, b'0', b'0', 0, '2019-00-00', '0000-00-00 14:02:10.5', "
    "'0000-00-00 00:00:00', '-838:59:59.000000', '', '', '', '', '', '', x'000000', x'', x'', "
    "x'', x'', x'', 'a', '', 'null', "
    + ", ".join(v for _, _, v in SPATIAL)
    + ", "
    + ", ".join(values[0] for _, _, values in NETWORK)
    + ")",
    # the high edges
    "(2, 127, 255, 65535, 16777215, 4294967295, 18446744073709551615, 127, 1, 99999999.99, "
    "'99999999999999999999999999999999999.999999999999999999999999999999', 3.40282e38, "
    "1.7976931348623157e308, b'1', cast(18446744073709551615 as unsigned), "
    "2155, '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', "
    "'838:59:59.000000', '𠮷 é ', concat(' padded ', char(9), '\"q\" \\\\ '), 'ü', "
    "repeat('t', 65535), "
    "repeat('m', 65535), repeat('l', 65535), x'ff00ff', x'deadbeef', x'00', x'0102', x'03', x'04', "
    "'ü', 'x,z', '{\"k\": [1, 2.5, \"ü\", null]}', "
    + ", ".join("null" for _ in SPATIAL)
    + ", "
    + ", ".join(values[1] for _, _, values in NETWORK)
    + ")",
    # SQL NULL everywhere it may be
    "(3" + ", null" * 45 + ")",
]  # fmt: skip
OTHER_TABLES = [
    # a reserved word and mixed case
    "create table `Order` (`Select` int primary key, `From` varchar(10), `camelCase` int)",
    "insert into `Order` values (1, 'a', 1), (2, null, 2)",
    # no key, identical rows: data, copied as they are
    "create table event_log (at datetime(6) not null, msg varchar(40))",
    "insert into event_log values ('2024-01-01 00:00:00', 'boot'), "
    "('2024-01-01 00:00:00', 'boot'), ('2024-01-01 00:00:01', null)",
    # a column a user leaves out (a secret)
    "create table accounts (id int primary key, login varchar(20), secret_hash varchar(64))",
    "insert into accounts values (1, 'amy', 'x1'), (2, 'bob', 'x2')",
    # any name MySQL accepts: spaces, hyphens, Unicode, quotes, backticks, dots, %, a name
    # that reads like SQL; the cursor and the key too
    "create table `Order Lines-2024 ü` (`Line ID` int primary key, `unit-price ($)` "
    "decimal(10,2), `Größe` varchar(10), `qu\"o'te` varchar(5), `back``tick` int, `a.b` int, "
    "`100%` int, `id``; drop table x; --` int, `Updated At` timestamp(6) not null "
    "default current_timestamp(6) on update current_timestamp(6))",
    "insert into `Order Lines-2024 ü` (`Line ID`, `unit-price ($)`, `Größe`, `qu\"o'te`, "
    "`back``tick`, `a.b`, `100%`, `id``; drop table x; --`) values "
    "(1, 9.99, 'XL', 'a\"b', 1, 2, 3, 4), (2, 0.5, 'ß', null, null, null, null, null), "
    "(3, 1, 'M', '', 0, 0, 0, 0)",
    "create table `special\"[``]$'` (k int primary key, `Value` varchar(5))",
    "insert into `special\"[``]$'` values (1, 'v')",
    "create table `订单` (id int primary key, `名称` varchar(10))",
    "insert into `订单` values (1, '订单一')",
]
ODD = "Order Lines-2024 ü"
# MySQL name -> warehouse name, as the rule spells them (ingestion/contract/names.py)
STAGING_TABLES = {"Order": "order", ODD: "order_lines_2024_u", 'special"[`]$\'': "special______",
                  "订单": "__"}  # fmt: skip
ODD_COLUMNS = ["line_id", "unit_price____", "grosse", "qu_o_te", "back_tick", "a_b", "100_",
               "id___drop_table_x____", "updated_at"]  # fmt: skip


def reconcile(source, env) -> dict[str, bool]:
    """``reconcile --source``: table -> equal, from its JSON lines (exit 1 when any differs)."""
    result = run_cli("reconcile", "--source", str(source), "--log-format", "json", env=env)
    tables = {}
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            tables[record["table"]] = record["equal"]
            assert record["equal"], record
    assert result.returncode == 0 and tables, result.stdout[-3000:] + result.stderr[-2000:]
    return tables


def _columns(cur) -> int:
    cur.execute(
        "select count(*) from information_schema.columns "
        "where table_schema = database() and table_name = 'every_type'"
    )
    return cur.fetchone()[0]


def test_discover_ingest_reconcile_on_a_database_of_every_type(settings, tmp_path):
    database = settings.mysql.database
    lake = Path(settings.lake_uri.removeprefix("file://"))
    with connect(settings.mysql, database) as conn, conn.cursor() as cur:
        cur.execute("set session sql_mode = ''")  # zero dates, as legacy servers allow
        cur.execute(EVERY_TYPE)
        assert _columns(cur) == 46
        cur.execute("insert into every_type values " + ", ".join(ROWS))
        for statement in OTHER_TABLES:
            cur.execute(statement)
    env = {**os.environ, **settings.to_env()}
    out = tmp_path / "any.yml"
    found = run_cli("discover", "--database", database, "--out", str(out), env=env)
    assert found.returncode == 0, found.stderr[-3000:]
    config = yaml.safe_load(out.read_text())
    assert config["tables"]["every_type"]["column_types"] == {"small_number": "integer"}
    odd = config["tables"][ODD]  # incremental by its odd cursor, keyed by its odd key
    assert odd["primary_key"] == ["Line ID"] and odd["cursor"] == "Updated At"
    assert f"# staging table: {config['warehouse_schema']}.order_lines_2024_u" in out.read_text()
    assert '"unit-price ($)" -> unit_price____' in out.read_text()  # the mapping, shown

    ingested = run_cli("ingest", "--source", str(out), env=env)  # the file as written
    assert ingested.returncode == 0, ingested.stdout[-4000:] + ingested.stderr[-3000:]
    everything = {"accounts", "event_log", "every_type", *STAGING_TABLES}
    assert reconcile(out, env) == dict.fromkeys(everything, True)

    # spatial and network values, read at both ends by each server's own functions: the SRID,
    # the WKB, and PostGIS's reading of MariaDB's WKT equal to the staged geometry
    schema = config["warehouse_schema"]
    spatial = ", ".join(
        f"st_srid({n}), hex(st_asbinary({n})), st_astext({n})" for n, _, _ in SPATIAL
    )
    network = ", ".join(n for n, _, _ in NETWORK)
    with connect(settings.mysql, database) as conn, conn.cursor() as cur:
        cur.execute(f"select id, {spatial}, {network} from every_type order by id")  # noqa: S608
        at_source = cur.fetchall()
    assert len(at_source) == 3 and at_source[0][4] == 4326  # pt's SRID, as created
    checked = 0
    with pg_connect(settings.postgres) as conn:
        for row in at_source:
            for i, (name, _, _) in enumerate(SPATIAL):
                srid, wkb, wkt = row[1 + 3 * i : 4 + 3 * i]
                staged = conn.execute(
                    f"select st_srid({name}), upper(encode(st_asbinary({name}), 'hex')), "  # noqa: S608
                    f"st_orderingequals({name}, st_geomfromtext(%s, %s)) "
                    f"from {schema}.every_type where id = %s",
                    (wkt, srid, row[0]),
                ).fetchone()
                expected = (None, None, None) if wkb is None else (srid, wkb, True)
                assert staged == expected, (row[0], name, staged, expected)
                checked += wkb is not None
            net = conn.execute(
                f"select {network} from {schema}.every_type where id = %s",
                (row[0],),  # noqa: S608
            ).fetchone()
            assert net == row[1 + 3 * len(SPATIAL) :], (row[0], net)
    assert checked == len(SPATIAL)

    # the warehouse spells every name by the one rule; the catalog keeps the MySQL names
    with pg_connect(settings.postgres) as conn:
        staged = conn.execute(
            "select table_name from information_schema.tables where table_schema = %s",
            (schema,),
        ).fetchall()
        columns = conn.execute(
            "select column_name from information_schema.columns where table_schema = %s "
            "and table_name = %s and column_name not like '\\_%%' order by ordinal_position",
            (schema, "order_lines_2024_u"),
        ).fetchall()
        values = conn.execute(
            f'select "grosse", "qu_o_te", "100_" from {schema}.order_lines_2024_u '  # noqa: S608
            "order by line_id"
        ).fetchall()
    assert set(STAGING_TABLES.values()) <= {name for (name,) in staged}
    assert [name for (name,) in columns] == ODD_COLUMNS
    assert values == [("XL", 'a"b', 3), ("ß", None, None), ("M", "", 0)]
    catalog = json.loads(
        (lake / "_catalog" / f"{config['name']}_raw" / "order_lines_2024_u.json").read_text()
    )["Table"]
    assert catalog["Parameters"]["jlr.source_table"] == ODD
    kept = {
        c["Name"]: c["Parameters"].get("jlr.source.name")
        for c in catalog["StorageDescriptor"]["Columns"]
    }
    assert kept["unit_price____"] == "unit-price ($)" and kept["line_id"] == "Line ID"

    # a user's edits: leave the secret out, read the log as an append-only table
    edited = yaml.safe_load(out.read_text())
    edited["tables"]["accounts"]["exclude_columns"] = ["secret_hash"]
    edited["tables"]["event_log"] = {"mode": "append", "cursor": "at", "safety_lag_seconds": 0}
    edited["tables"][ODD]["safety_lag_seconds"] = 0  # the change below is a second old
    out.write_text(yaml.safe_dump(edited, allow_unicode=True))
    with connect(settings.mysql, database) as conn, conn.cursor() as cur:
        cur.execute("insert into accounts values (3, 'cy', 'x3')")
        # a change and a delete of the odd table: merged and tombstoned by their odd names
        cur.execute("update `Order Lines-2024 ü` set `100%` = 100 where `Line ID` = 1")
        cur.execute("delete from `Order Lines-2024 ü` where `Line ID` = 3")
    subset = json.dumps(["accounts", "event_log", ODD])  # a JSON array: any name survives it
    again = run_cli("ingest", "--source", str(out), "--tables", subset, env=env)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-3000:]
    with connect(settings.mysql, database) as conn, conn.cursor() as cur:
        cur.execute("insert into event_log values (utc_timestamp(6) - interval 1 second, 'up'), "
                    "(utc_timestamp(6) - interval 1 second, 'up')")  # fmt: skip
    appended = run_cli("ingest", "--source", str(out), "--tables", "event_log", env=env)
    assert appended.returncode == 0, appended.stdout[-4000:] + appended.stderr[-3000:]
    with pg_connect(settings.postgres) as conn:
        secrets = conn.execute(
            f"select id, secret_hash from {schema}.accounts order by id"  # noqa: S608
        ).fetchall()
        log = conn.execute(f"select count(*) from {schema}.event_log").fetchone()[0]  # noqa: S608
        odd_rows = conn.execute(
            f'select line_id, "100_" from {schema}.order_lines_2024_u order by 1'  # noqa: S608
        ).fetchall()
    assert secrets == [(1, None), (2, None), (3, None)]  # never read once left out
    assert log == 5
    assert odd_rows == [(1, 100), (2, None)]
    assert all(reconcile(out, env).values())

    # a second source beside it: its own database, schema and lake prefixes
    second = f"{database}_b"
    with connect(settings.mysql) as conn, conn.cursor() as cur:
        cur.execute(f"create database {quote_ident(second)}")
    try:
        with connect(settings.mysql, second) as conn, conn.cursor() as cur:
            cur.execute("create table every_type (id int primary key, note varchar(5))")
            cur.execute("insert into every_type values (1, 'other')")
        other = tmp_path / "other.yml"
        other.write_text(
            f"name: other\ndatabase: {second}\nwarehouse_schema: other_staging\n"
            "tables:\n  '*': {}\n"
        )
        assert run_cli("ingest", "--source", str(other), env=env).returncode == 0
        assert reconcile(other, env) == {"every_type": True}
        assert all(reconcile(out, env).values())
    finally:
        with connect(settings.mysql) as conn, conn.cursor() as cur:
            cur.execute(f"drop database if exists {quote_ident(second)}")


def test_names_that_meet_in_the_warehouse_are_one_clear_error(settings, tmp_path):
    """Two MySQL names with one warehouse name would share a staging table or column: discover
    leaves them out with the reason, a file that selects both stops before any data moves, and a
    table whose columns meet fails alone while the others load."""
    with connect(settings.mysql, settings.mysql.database) as conn, conn.cursor() as cur:
        cur.execute("create table `Order` (id int primary key)")  # case-sensitive on Linux
        cur.execute("create table `order` (id int primary key)")
        cur.execute("create table `cols` (id int primary key, `a-b` int, `a b` int)")
        cur.execute("create table fine (id int primary key)")
        cur.execute("insert into fine values (1)")
    env = {**os.environ, **settings.to_env()}
    found = run_cli("discover", "--database", settings.mysql.database, env=env)
    assert found.returncode == 0, found.stderr[-3000:]
    assert set(yaml.safe_load(found.stdout)["tables"]) == {"Order", "fine"}
    assert "#   order: table 'Order' has the same warehouse name 'order'" in found.stdout
    assert "#   cols: 'a-b' and 'a b' are both 'a_b' in the warehouse" in found.stdout

    every = tmp_path / "every.yml"
    every.write_text(
        f"name: meet\ndatabase: {settings.mysql.database}\nwarehouse_schema: meet_staging\n"
        "tables:\n  '*': {}\n"
    )
    stopped = run_cli("ingest", "--source", str(every), env=env)
    assert stopped.returncode == 1
    assert stopped.stderr.strip().splitlines() == [
        f"error: {every}: tables: 'Order' and 'order' are both 'order' in the warehouse; leave "
        "one out with exclude (the warehouse-name rule is in the README)"
    ]
    assert not any(Path(settings.lake_uri.removeprefix("file://")).iterdir())  # nothing moved

    every.write_text(every.read_text() + "exclude: [order]\n")
    ingested = run_cli("ingest", "--source", str(every), env=env)
    assert ingested.returncode == 1
    assert "cols: check: table 'cols': 'a-b' and 'a b' are both 'a_b' in the warehouse" in (
        " ".join(ingested.stderr.split())
    )
    with pg_connect(settings.postgres) as conn:
        loaded = conn.execute("select count(*) from meet_staging.fine").fetchone()[0]
    assert loaded == 1
