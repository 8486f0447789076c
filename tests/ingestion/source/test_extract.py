"""Extraction from a real MariaDB into a lake directory: exact values, manifest, validation."""

import gzip
import json
from pathlib import Path

import pytest

from ingestion.catalog.crawl import crawl_table
from ingestion.catalog.local import LocalCatalog
from ingestion.config.settings import Endpoint
from ingestion.config.source import load_source
from ingestion.errors import CatalogError, ConfigError, SourceError
from ingestion.lake.layout import raw_manifests
from ingestion.lake.storage import open_lake
from ingestion.source.extract import extract_table
from ingestion.source.mysql import connect

TYPES_TABLE = """
create table edge (
    id bigint unsigned not null primary key,
    flag tinyint(1), small tinyint, amount decimal(30,10), big decimal(65,30), ratio double,
    bits bit(12), yr year, d date, dt datetime(6), ts timestamp null, t time,
    name varchar(20), doc json, raw varbinary(8), kind enum('a','b'), tags set('x','y'),
    updated_at datetime not null, l varchar(10) charset latin1, odd varchar(20)
)
"""
TYPES_ROW = (
    "insert into edge values (18446744073709551615, 1, -128, "
    "'12345678901234567890.0123456789', '1234567890123456789012345678901234.5', 0.1, "
    "b'101010101010', 2155, '0000-00-00', '0000-00-00 00:00:00.000000', "
    "'2038-01-19 03:14:07', '-838:59:59', '𠮷野家 café', '{\"a\": [1, 2]}', "
    "x'00ff10', 'b', 'x,y', '2024-02-29 12:00:00', 'café', "
    "concat('q\"b\\\\s', char(9), char(10), char(1)))"
)


def config_file(tmp_path: Path, tables: str) -> Path:
    path = tmp_path / "src.yml"
    path.write_text(f"name: src\ndatabase: src\nwarehouse_schema: src_staging\ntables:\n{tables}")
    return path


def run_sql(settings, *statements):
    with connect(settings.mysql, settings.mysql.database) as conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute("set session sql_mode = ''")
            cur.execute(statement)


def read_rows(lake, manifest):
    rows = []
    for f in manifest["files"]:
        with gzip.open(lake.path(f["key"]), "rt", encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle]
    return rows


def test_zerofill_integers_and_a_zero_year_are_exact_json_numbers(settings, tmp_path):
    """The server renders ZEROFILL integers padded (00255) and a YEAR holding 0 as 0000: the raw
    zone gets the numbers, valid JSON the crawl accepts."""
    run_sql(
        settings,
        "create table padded (id int(8) unsigned zerofill not null primary key, "
        "t tinyint(3) zerofill, m mediumint(5) zerofill, b bigint(20) unsigned zerofill, "
        "y year, n int)",
        "insert into padded values (255, 7, 42, 18446744073709551615, 0, -5), "
        "(1, null, 0, 1, 2024, null)",
    )
    config = load_source(config_file(tmp_path, "  padded: {}\n"))
    lake = open_lake(settings.lake_uri)
    result = extract_table(config, settings.mysql, lake, "padded")
    rows = sorted(read_rows(lake, lake.get_json(result.manifest_key)), key=lambda r: r["id"])
    assert rows == [
        {"id": 1, "t": None, "m": 0, "b": 1, "y": 2024, "n": None},
        {"id": 255, "t": 7, "m": 42, "b": 18446744073709551615, "y": 0, "n": -5},
    ]
    assert crawl_table(lake, LocalCatalog(lake), "src", "padded").partitions == 1


def test_a_table_with_an_unsupported_type_names_table_column_and_type(
    settings, tmp_path, monkeypatch
):
    from ingestion.contract import typemap
    from ingestion.errors import UnsupportedTypeError

    monkeypatch.setattr(typemap, "SPATIAL_TYPES", typemap.SPATIAL_TYPES - {"point"})  # no map
    run_sql(settings, "create table sites (id int primary key, location point)")
    config = load_source(config_file(tmp_path, "  sites: {}\n"))
    with pytest.raises(UnsupportedTypeError) as refused:
        extract_table(config, settings.mysql, open_lake(settings.lake_uri), "sites")
    message = str(refused.value)
    assert "table 'sites'" in message and "'location'" in message and "'point'" in message


def test_values_are_extracted_exactly(settings, tmp_path):
    run_sql(settings, TYPES_TABLE, TYPES_ROW)
    config = load_source(config_file(tmp_path, "  edge:\n    cursor: updated_at\n"))
    lake = open_lake(settings.lake_uri)
    result = extract_table(config, settings.mysql, lake, "edge")
    manifest = lake.get_json(result.manifest_key)
    (row,) = read_rows(lake, manifest)
    assert row == {
        "id": 18446744073709551615,
        "flag": 1,
        "small": -128,
        "amount": "12345678901234567890.0123456789",
        "big": "1234567890123456789012345678901234.500000000000000000000000000000",
        "ratio": 0.1,
        "bits": 0b101010101010,
        "yr": 2155,
        "d": None,
        "dt": None,
        "ts": "2038-01-19 03:14:07",
        "t": "-838:59:59",
        "name": "𠮷野家 café",
        "doc": '{"a": [1, 2]}',
        "raw": "AP8Q",
        "kind": "b",
        "tags": "x,y",
        "updated_at": "2024-02-29 12:00:00",
        "l": "café",
        "odd": 'q"b\\s\t\n\x01',
    }
    assert manifest["zero_dates"] == {"d": 1, "dt": 1}
    assert manifest["primary_key"] == ["id"]  # taken from information_schema
    assert manifest["row_count"] == 1 and manifest["files"][0]["rows"] == 1
    assert len(manifest["files"][0]["sha256"]) == 64
    types = {c["name"]: c["types"] for c in manifest["columns"]}
    assert types["doc"]["postgres"] == "jsonb" and types["id"]["spark"] == "decimal(20,0)"


def rows_in_chunks(settings, tmp_path, table: str, columns: str, values: str):
    """A 2,500-row table read in chunks of 1,000: its source config and the test's lake."""
    run_sql(
        settings,
        f"create table {table} ({columns})",
        f"insert into {table} select {values} from seq_1_to_2500",
    )
    config = load_source(config_file(tmp_path, f"  {table}:\n    chunk_rows: 1000\n"))
    return config, open_lake(settings.lake_uri)


def test_chunks_split_large_tables_and_the_manifest_is_last(settings, tmp_path):
    config, lake = rows_in_chunks(
        settings, tmp_path, "t", "id int primary key, v varchar(10)", "seq, concat('v', seq)"
    )
    result = extract_table(config, settings.mysql, lake, "t")
    manifest = lake.get_json(result.manifest_key)
    assert [f["rows"] for f in manifest["files"]] == [1000, 1000, 500]
    assert len(read_rows(lake, manifest)) == 2500
    assert raw_manifests(lake, "src", "t") == [result.manifest_key]


def test_a_keyless_run_cut_short_starts_over_with_nothing_doubled(settings, tmp_path):
    """No key, no order to resume from: a deadline fails the run with advice (rather than a
    continuation that would start over forever), and the next run abandons the unfinished one
    and copies every row once, identical rows included."""
    config, lake = rows_in_chunks(
        settings, tmp_path, "log", "at int, v varchar(10)", "seq mod 7, 'same'"
    )
    with pytest.raises(SourceError, match="has no primary key, so its copy cannot be continued"):
        extract_table(config, settings.mysql, lake, "log", should_stop=lambda: True)
    unfinished = lake.list("raw/src/log/", ".gz")
    assert len(unfinished) == 1  # its first chunk was committed, and is never read
    result = extract_table(config, settings.mysql, lake, "log")
    assert (result.status, result.resumed, result.rows) == ("committed", False, 2500)
    assert raw_manifests(lake, "src", "log") == [result.manifest_key]
    assert unfinished[0] not in lake.list("raw/src/log/", ".gz")  # the abandoned run is gone
    manifest = lake.get_json(result.manifest_key)
    assert manifest["primary_key"] == [] and len(read_rows(lake, manifest)) == 2500


def test_files_without_a_manifest_are_invisible(settings, tmp_path):
    lake = open_lake(settings.lake_uri)
    lake.put_bytes("raw/src/t/run=20990101T000000000000Z/part-00000.jsonl.gz", b"partial")
    assert raw_manifests(lake, "src", "t") == []
    with pytest.raises(CatalogError, match="no committed raw data"):
        crawl_table(lake, LocalCatalog(lake), "src", "t")


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ("  missing:\n    primary_key: [id]\n", r"tables\.missing: table 'missing' does not exist"),
        (
            "  t:\n    primary_key: [nope]\n",
            r"tables\.t\.primary_key: column 'nope' does not exist",
        ),
        ("  t:\n    cursor: nope\n", r"tables\.t\.cursor: column 'nope' does not exist"),
        (
            "  nopk:\n    mode: incremental\n    cursor: v\n",
            r"tables\.nopk\.primary_key: the table has no PRIMARY KEY and mode incremental needs",
        ),
    ],
)
def test_configuration_is_checked_against_the_live_catalog(settings, tmp_path, tables, message):
    run_sql(settings, "create table t (id int primary key)", "create table nopk (v int)")
    config = load_source(config_file(tmp_path, tables))
    lake = open_lake(settings.lake_uri)
    with pytest.raises(ConfigError, match=message):
        extract_table(config, settings.mysql, lake, next(iter(config.tables)))
    assert lake.list("") == []  # nothing written


def test_wrong_password_is_a_clear_error_without_the_password(settings):
    wrong = Endpoint(
        settings.mysql.host,
        settings.mysql.port,
        settings.mysql.user,
        "not-the-password-123",
        settings.mysql.database,
    )
    with pytest.raises(SourceError) as err, connect(wrong):
        pass
    assert "wrong user or password" in str(err.value)
    assert "not-the-password-123" not in str(err.value)


def test_partition_column_must_be_a_date(settings, tmp_path):
    run_sql(settings, "create table t (id int primary key, d date, v varchar(5))")
    lake = open_lake(settings.lake_uri)
    bad = load_source(config_file(tmp_path, "  t:\n    partition_column: v\n"))
    with pytest.raises(ConfigError, match=r"tables\.t\.partition_column: 'v' is not a DATE"):
        extract_table(bad, settings.mysql, lake, "t")
    good = load_source(config_file(tmp_path, "  t:\n    partition_column: d\n"))
    assert extract_table(good, settings.mysql, lake, "t").status == "committed"


def test_the_crawl_checks_the_data_against_its_manifest(settings, tmp_path):
    run_sql(
        settings,
        "create table t (id int primary key, v varchar(5))",
        "insert into t values (1, 'a'), (2, 'b')",
    )
    config = load_source(config_file(tmp_path, "  t: {}\n"))
    lake = open_lake(settings.lake_uri)
    result = extract_table(config, settings.mysql, lake, "t")
    catalog = LocalCatalog(lake)
    assert crawl_table(lake, catalog, "src", "t").partitions == 1
    data_key = lake.get_json(result.manifest_key)["files"][0]["key"]
    lake.put_bytes(data_key, gzip.compress(b'{"id":1,"v":"a","extra":1}\n'))
    with pytest.raises(CatalogError, match=r"has fields \['id', 'v', 'extra'\] but its manifest"):
        crawl_table(lake, catalog, "src", "t")
