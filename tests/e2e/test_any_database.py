"""A database the project did not design, as a new user meets it: every column type MariaDB
offers and the attributes that change how the server renders a value, awkward names, a keyless
table with duplicate rows, an append-only log and a column to leave out. ``discover`` writes the
source file, ``ingest`` loads it unedited, ``reconcile`` finds every table equal; spatial and
network values are checked at both ends. A second source lands in the same lake and warehouse
beside it, and both reconcile."""

from __future__ import annotations

import json
import os

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
]


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

    ingested = run_cli("ingest", "--source", str(out), env=env)  # the file as written
    assert ingested.returncode == 0, ingested.stdout[-4000:] + ingested.stderr[-3000:]
    assert reconcile(out, env) == {"Order": True, "accounts": True, "event_log": True,
                                   "every_type": True}  # fmt: skip

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

    # a user's edits: leave the secret out, read the log as an append-only table
    edited = yaml.safe_load(out.read_text())
    edited["tables"]["accounts"]["exclude_columns"] = ["secret_hash"]
    edited["tables"]["event_log"] = {"mode": "append", "cursor": "at", "safety_lag_seconds": 0}
    out.write_text(yaml.safe_dump(edited, allow_unicode=True))
    with connect(settings.mysql, database) as conn, conn.cursor() as cur:
        cur.execute("insert into accounts values (3, 'cy', 'x3')")
    again = run_cli("ingest", "--source", str(out), "--tables", "accounts,event_log", env=env)
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
    assert secrets == [(1, None), (2, None), (3, None)]  # never read once left out
    assert log == 5
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
