"""The bad-input corpus through the real pipeline (MariaDB -> extract -> crawl -> Spark curate ->
PostgreSQL): every bad row lands in the rejects zone with its reason, every other row arrives,
the counts reconcile and `reconcile` finds nothing unexplained. Bad configuration, wrong
passwords, unreachable servers, malicious identifiers: tests/test_security.py, and under
tests/ingestion/ test_cli.py, config/test_source.py and source/test_extract.py; a full disk and
a lake without permission: below."""

from __future__ import annotations

import json
import os
import resource
import signal
from decimal import Decimal

from ingestion.config.source import load_source
from ingestion.lake.storage import open_lake
from ingestion.pipeline import run_ingest
from ingestion.reconcile import reconcile
from ingestion.source.mysql import connect
from ingestion.warehouse.postgres import pg_connect
from tests.ingestion.test_cli import run_cli

CONFIG = """name: corpus
database: {database}
warehouse_schema: corpus_staging
tables:
  oddities:
    primary_key: [id]           # declared here: the source table has no unique key on it
    mode: incremental
    cursor: updated_at
"""
BIG = "9" * 35 + "." + "1" * 30  # DECIMAL(65,30): beyond 38 digits, carried exactly as text

ROWS = [
    # id, d, dt, latin (hex bytes), long_text length, big, js
    (1, "'2024-01-31'", "'2024-01-31 10:00:00'", "636166e9", 10, f"'{BIG}'", "'{\"a\": [1]}'"),
    (2, "'0000-00-00'", "'0000-00-00 00:00:00'", "41", 10, "1", "'[]'"),  # zero dates
    (3, "'2024-02-30'", "'2024-01-31 10:00:00'", "41", 10, "1", "'{}'"),  # impossible date
    (4, "'2024-01-31'", "'2024-01-31 10:00:00'", "c328", 10, "1", "'{}'"),  # not UTF-8 bytes
    (5, "'2024-01-31'", "'2024-01-31 10:00:00'", "41", 70_000, "1", "'{}'"),  # > 65,535 bytes
    (6, "'2024-01-31'", "'2024-01-31 10:00:00'", "41", 10, "1", "'{\"a\": '"),  # invalid JSON
    (7, "'2024-01-31'", "'2024-01-31 10:00:00'", "41", 10, "2", "'{}'"),  # a duplicate key:
    (7, "'2024-02-01'", "'2024-02-01 10:00:00'", "42", 10, "3", "'{}'"),  # the latest wins
]


def create_corpus(settings) -> None:
    with connect(settings.mysql, settings.mysql.database) as conn, conn.cursor() as cur:
        cur.execute("set session sql_mode = 'ALLOW_INVALID_DATES'")
        cur.execute("set session check_constraint_checks = 0")  # lets invalid JSON in
        cur.execute(
            "create table oddities (id int not null, d date, dt datetime, "
            "latin varchar(20) character set latin1, long_text mediumtext, "
            "big decimal(65,30), js json, updated_at datetime(6) not null, key (id))"
        )
        for i, (key, d, dt, latin, length, big, js) in enumerate(ROWS):
            cur.execute(
                f"insert into oddities values ({key}, {d}, {dt}, x'{latin}', "
                f"repeat('x', {length}), {big}, {js}, now(6) - interval {60 - i} second)"
            )


def test_every_bad_row_is_rejected_with_its_reason_and_the_rest_arrives(settings, tmp_path):
    create_corpus(settings)
    path = tmp_path / "corpus.yml"
    path.write_text(CONFIG.format(database=settings.mysql.database))
    config = load_source(path)
    (run,) = run_ingest(config, settings, settings.mysql.database, ["oddities"])
    assert run.status == "ok", run.error
    assert (run.extracted, run.rejected, run.duplicates, run.curated) == (8, 3, 1, 4)
    assert run.zero_dates == 2  # the date and the datetime of row 2, nulled and counted

    lake = open_lake(settings.lake_uri)
    (reject_file,) = lake.list("rejects/corpus/oddities/", ".json")
    reasons = {
        json.loads(json.loads(line)["record"])["id"]: json.loads(line)["reason"]
        for line in lake.get_bytes(reject_file).splitlines()
    }
    assert sorted(reasons) == [3, 5, 6]
    assert reasons[3].startswith("d: value 2024-02-30 is not a valid date")
    assert "long_text: value of 70000 bytes is longer than the warehouse's limit" in reasons[5]
    assert reasons[6].startswith('js: value {"a":  is not valid JSON (longtext)')

    with pg_connect(settings.postgres) as conn:
        rows = conn.execute(
            "select id, d, dt, latin, length(long_text), big, js::text "
            "from corpus_staging.oddities order by id"
        ).fetchall()
    assert [r[0] for r in rows] == [1, 2, 4, 7]
    by_id = {r[0]: r for r in rows}
    assert by_id[1][3] == "café" and by_id[1][5] == BIG and by_id[1][6] == '{"a": [1]}'
    assert by_id[2][1] is None and by_id[2][2] is None  # zero dates
    assert by_id[4][3] == "Ã("  # bytes that are not UTF-8 are latin1 characters: kept as such
    assert by_id[7][3] == "B" and Decimal(by_id[7][5]) == 3  # the later duplicate won

    (result,) = reconcile(config, settings, settings.mysql.database, lake, ["oddities"])
    assert result.equal, result.as_dict()
    assert result.rejected == 3 and len(result.source_duplicate_keys) == 1


def ingest_child(settings, tables, preexec=None):
    env = {**os.environ, **settings.to_env(), "LOG_FORMAT": "json"}
    return run_cli("ingest", "--tables", tables, env=env, preexec_fn=preexec)


def _tiny_disk() -> None:
    """In the child: files may not grow past 64 KiB (EFBIG, like ENOSPC on a full disk)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_a_full_disk_is_one_clear_error_and_the_rerun_completes(settings):
    from ingestion.demo.generator import seed_database

    seed_database(settings.mysql, settings.mysql.database, 0.001, 2)
    full = ingest_child(settings, "customers", preexec=_tiny_disk)
    assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr[-2000:]
    (line,) = [json.loads(x) for x in full.stdout.splitlines() if x.startswith("{")]
    assert line["status"] == "failed" and "File too large" in line["error"], line
    lake = open_lake(settings.lake_uri)
    assert lake.list("curated/jlr_ops/customers/", "_manifest.json") == []  # none committed
    rerun = ingest_child(settings, "customers")
    assert rerun.returncode == 0, rerun.stdout[-2000:]
    config = load_source("jlr_ops")
    (result,) = reconcile(config, settings, settings.mysql.database, lake, ["customers"])
    assert result.equal, result.as_dict()


def test_a_lake_without_permission_is_one_clear_error(settings, tmp_path):
    """A lake directory the process may not write to (as root: without the capability that
    overrides file permissions, the owner's read-only bits apply)."""
    from ingestion.demo.generator import seed_database

    seed_database(settings.mysql, settings.mysql.database, 0.0005, 2)
    lake = tmp_path / "readonly-lake"
    lake.mkdir()
    lake.chmod(0o555)
    drop = []
    if os.geteuid() == 0:
        drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
    env = {
        **os.environ,
        **settings.to_env(),
        "JLR_LAKE_URI": f"file://{lake}",
        "LOG_FORMAT": "json",
    }
    result = run_cli("ingest", "--tables", "dealers", env=env, wrapper=drop)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    message = " ".join((result.stdout + result.stderr).split())
    assert "Permission denied" in message and str(lake) in message, message
    assert list(lake.iterdir()) == []
