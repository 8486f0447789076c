"""Every MySQL type at its edges, through extract -> crawl -> curate (Spark) -> load (PostgreSQL),
values checked exactly in the curated Parquet and in the staging table."""

import base64
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq

from glue_jobs.curate_batches import curate_table
from ingestion.catalog.crawl import crawl_table
from ingestion.catalog.local import LocalCatalog
from ingestion.config.source import load_source
from ingestion.lake.storage import open_lake
from ingestion.source.extract import extract_table
from ingestion.source.mysql import connect
from ingestion.warehouse.postgres import load_into_postgres, pg_connect

DDL = """
create table edge (
    id int primary key,
    b1 tinyint(1), ti tinyint, tiu tinyint unsigned, si smallint, siu smallint unsigned,
    mi mediumint, miu mediumint unsigned, i int, iu int unsigned, bi bigint,
    biu bigint unsigned, dec38 decimal(38,10), dec65 decimal(65,30), f float, d double,
    bit1 bit(1), bit64 bit(64), y year, dt date, dtt datetime(6), ts timestamp(6) null,
    tm time, tm3 time(3), c char(5), vc varchar(255), tx text, en enum('a','b','ü'),
    st set('x','y','z'), js json, bn binary(4), vb varbinary(10), bl blob,
    latin varchar(10) character set latin1
)
"""
ROWS = [
    """(1, 0, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
        '-1234567890123456789012345678.0123456789',
        '-12345678901234567890123456789012345.123456789012345678901234567890',
        -3.40282e38, -1.7976931348623157e308, b'0', b'0', 1901, '1000-01-01',
        '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000000', '-838:59:59', '-00:00:00.001',
        '', '', '', 'a', '', '[]', x'00000000', x'', x'', '')""",
    """(2, 1, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
        9223372036854775807, 18446744073709551615, '9999999999999999999999999999.9999999999',
        '99999999999999999999999999999999999.999999999999999999999999999999', 3.40282e38,
        1.7976931348623157e308, b'1', cast(18446744073709551615 as unsigned),
        2155, '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999',
        '838:59:59', '12:34:56.789', '𠮷𠮷𠮷𠮷𠮷',
        concat('q"b\\\\s', char(9), char(10), char(1), ' é'),
        repeat('x', 65535), 'ü', 'x,z', '{"k": [1, 2.5, "ü", null]}', x'00ff0010',
        x'deadbeef00', x'0102030405060708090a0b', 'café')""",
    """(3, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
        null, null, null, null, '0000-00-00', '0000-00-00 00:00:00.000000', null, null, null,
        null, null, null, null, null, null, null, null, null, null)""",
]

EXPECTED = {
    1: {
        "b1": False,
        "ti": -128,
        "tiu": 0,
        "si": -32768,
        "siu": 0,
        "mi": -8388608,
        "miu": 0,
        "i": -2147483648,
        "iu": 0,
        "bi": -(2**63),
        "biu": Decimal(0),
        "dec38": Decimal("-1234567890123456789012345678.0123456789"),
        "dec65": "-12345678901234567890123456789012345.123456789012345678901234567890",
        "d": -1.7976931348623157e308,
        "bit1": False,
        "bit64": Decimal(0),
        "y": 1901,
        "dt": date(1000, 1, 1),
        "dtt": datetime(1000, 1, 1),
        "ts": datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
        "tm": "-838:59:59",
        "tm3": "-00:00:00.001",
        "c": "",
        "vc": "",
        "tx": "",
        "en": "a",
        "st": "",
        "js": "[]",
        "bn": b"\x00" * 4,
        "vb": b"",
        "bl": b"",
        "latin": "",
    },
    2: {
        "b1": True,
        "ti": 127,
        "tiu": 255,
        "si": 32767,
        "siu": 65535,
        "mi": 8388607,
        "miu": 16777215,
        "i": 2147483647,
        "iu": 4294967295,
        "bi": 2**63 - 1,
        "biu": Decimal(2**64 - 1),
        "dec38": Decimal("9999999999999999999999999999.9999999999"),
        "dec65": "99999999999999999999999999999999999.999999999999999999999999999999",
        "d": 1.7976931348623157e308,
        "bit1": True,
        "bit64": Decimal(2**64 - 1),
        "y": 2155,
        "dt": date(9999, 12, 31),
        "dtt": datetime(9999, 12, 31, 23, 59, 59, 999999),
        "ts": datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC),
        "tm": "838:59:59",
        "tm3": "12:34:56.789",
        "c": "𠮷𠮷𠮷𠮷𠮷",
        "vc": 'q"b\\s\t\n\x01 é',
        "tx": "x" * 65535,
        "en": "ü",
        "st": "x,z",
        "js": '{"k": [1, 2.5, "ü", null]}',
        "bn": b"\x00\xff\x00\x10",
        "vb": bytes.fromhex("deadbeef00"),
        "bl": bytes(range(1, 12)),
        "latin": "café",
    },
}
FLOATS = {1: -3.40282e38, 2: 3.40282e38}


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "src.yml"
    path.write_text(
        "name: src\ndatabase: src\nwarehouse_schema: src_staging\ntables:\n  edge: {}\n"
    )
    return path


def test_every_type_arrives_exactly(settings, spark, tmp_path):
    with connect(settings.mysql, settings.mysql.database) as conn, conn.cursor() as cur:
        cur.execute("set session sql_mode = ''")
        cur.execute(DDL)
        cur.execute("insert into edge values " + ", ".join(ROWS))
    config = load_source(write_config(tmp_path))
    lake = open_lake(settings.lake_uri)
    extracted = extract_table(config, settings.mysql, lake, "edge")
    assert extracted.zero_dates == {"dt": 1, "dtt": 1}
    catalog = LocalCatalog(lake)
    crawl_table(lake, catalog, "src", "edge")
    (batch,) = curate_table(spark, lake, catalog, "src", "edge")
    assert (batch.extracted, batch.curated, batch.rejected) == (3, 3, 0)
    written = lake.list("curated/")
    assert curate_table(spark, lake, catalog, "src", "edge") == []  # bookmark: nothing new
    assert lake.list("curated/") == written

    manifest = lake.get_json(batch.manifest_key)
    rows = {}
    for f in manifest["files"]:
        for row in pq.read_table(lake.path(f["key"])).to_pylist():
            rows[row["id"]] = row
    for row_id, expected in EXPECTED.items():
        for column, value in expected.items():
            assert rows[row_id][column] == value, (row_id, column, rows[row_id][column])
        assert abs(rows[row_id]["f"] - FLOATS[row_id]) / abs(FLOATS[row_id]) < 1e-6
    assert all(v is None for k, v in rows[3].items() if k in EXPECTED[1] and k != "id")

    (loaded,) = load_into_postgres(settings.postgres, lake, "src", "src_staging", ["edge"])
    assert loaded.rows_loaded == 3
    with pg_connect(settings.postgres) as conn:
        types = dict(
            conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'src_staging' and table_name = 'edge'"
            ).fetchall()
        )
        row = conn.execute(
            "select biu, dec38, dec65, bit64, js, bn, ts, dtt, tm, c, tx "
            "from src_staging.edge where id = 2"
        ).fetchone()
    assert types["biu"] == "numeric" and types["js"] == "jsonb" and types["bn"] == "bytea"
    assert types["ts"] == "timestamp with time zone"
    assert types["dtt"] == "timestamp without time zone"
    assert row[0] == Decimal(2**64 - 1) and row[1] == EXPECTED[2]["dec38"]
    assert row[2] == EXPECTED[2]["dec65"] and row[3] == Decimal(2**64 - 1)
    assert row[4] == {"k": [1, 2.5, "ü", None]} and bytes(row[5]) == b"\x00\xff\x00\x10"
    assert row[6] == EXPECTED[2]["ts"] and row[7] == EXPECTED[2]["dtt"]
    assert (row[8], row[9], len(row[10])) == ("838:59:59", "𠮷𠮷𠮷𠮷𠮷", 65535)
    assert base64.b64encode(bytes(row[5])) == b"AP8AEA=="
