"""The fault matrix: `make ingest` killed (SIGKILL) at every named crash point of every stage,
then run again; afterwards `reconcile` must find source and staging equal, with no duplicate
key. Each case follows a day of source changes (inserts, updates, soft and hard deletes), so
every stage has work in flight when it dies."""

from __future__ import annotations

import json
import os
import subprocess
import time

from ingestion.cli import DEFAULT_SOURCE
from ingestion.config.source import load_source
from ingestion.demo.changes import apply_changes
from ingestion.demo.generator import seed_database
from ingestion.lake.storage import open_lake
from ingestion.reconcile import reconcile
from tests.ingestion.test_cli import run_cli

# customers incremental (PII, rejects, soft deletes), sales_orders cdc (soft and hard deletes,
# updates that leave updated_at alone)
TABLES = ["customers", "sales_orders"]
CDC_CUSTOMERS = "  customers:\n    primary_key: [customer_id]\n    mode: cdc\n"
INCREMENTAL_CUSTOMERS = (
    "  customers:\n    primary_key: [customer_id]\n    mode: incremental\n"
    "    cursor: updated_at\n    lookback_seconds: 300\n"
)


def source_file(tmp_path):
    """The demo's source file with customers read incrementally: both modes in the matrix."""
    text = DEFAULT_SOURCE.read_text(encoding="utf-8")
    assert CDC_CUSTOMERS in text
    path = tmp_path / "jlr_ops.yml"
    path.write_text(text.replace(CDC_CUSTOMERS, INCREMENTAL_CUSTOMERS), encoding="utf-8")
    return path


# (crash point, where it lives): the ingest process itself, or a Glue job it runs
CRASH_POINTS = [
    ("extract.chunk_committed:1", "ingest"),  # after the first raw file
    ("extract.before_manifest:1", "ingest"),  # every raw file written, no manifest yet
    ("extract.before_watermark:1", "ingest"),  # manifest committed, bookmark not advanced
    ("crawl.before_commit:1", "ingest"),  # catalog not yet updated
    ("curate.before_manifest:1", "curate_raw.py"),  # Parquet and rejects written
    ("curate.batch_committed:1", "curate_raw.py"),  # one batch committed, others pending
    ("load.before_commit:1", "load_staging.py"),  # COPY done, transaction open
    ("load.after_commit:1", "load_staging.py"),  # one batch committed, others pending
]


def ingest(settings, source, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.to_env(), "LOG_FORMAT": "json"}
    env.pop("JLR_CRASH_AT", None)
    if crash_at:
        env["JLR_CRASH_AT"] = crash_at
    return run_cli("ingest", "--source", str(source), "--tables", ",".join(TABLES), env=env)


def test_killed_at_every_crash_point_a_rerun_loses_and_duplicates_nothing(settings, tmp_path):
    source = source_file(tmp_path)
    config = load_source(source)
    assert [config.tables[t].mode for t in TABLES] == ["incremental", "cdc"]
    database = settings.mysql.database
    lake = open_lake(settings.lake_uri)
    seed_database(settings.mysql, database, 0.001, 5)
    first = ingest(settings, source)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    lag = max(config.tables[t].safety_lag_seconds for t in TABLES) + 1

    for point, where in CRASH_POINTS:
        apply_changes(settings.mysql, database, 1)
        time.sleep(lag)  # the changes are older than the extract window's safety lag
        killed = ingest(settings, source, point)
        if where == "ingest":
            assert killed.returncode == -9, (point, killed.stderr[-2000:])
        else:  # the job died; the ingest reports it, names the job, and exits 1
            assert killed.returncode == 1, (point, killed.stdout[-2000:])
            assert f"job {where} exited with code -9" in killed.stdout, (point, killed.stdout)
        rerun = ingest(settings, source)
        tables = [json.loads(x) for x in rerun.stdout.splitlines() if x.startswith("{")]
        errors = {t["table"]: t.get("error") for t in tables if t.get("status") != "ok"}
        assert rerun.returncode == 0, (point, errors, rerun.stderr[-2000:])
        assert {t["table"]: t["status"] for t in tables} == {t: "ok" for t in TABLES}
        for r in reconcile(config, settings, database, lake, TABLES):
            assert r.equal, (point, r.as_dict())
            assert r.duplicate_keys == [] and r.source_rows > 0
