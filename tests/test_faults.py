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

TABLES = ["customers", "sales_orders"]  # incremental, PII, rejects, soft and hard deletes

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


def ingest(settings, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.to_env(), "LOG_FORMAT": "json"}
    env.pop("JLR_CRASH_AT", None)
    if crash_at:
        env["JLR_CRASH_AT"] = crash_at
    return run_cli("ingest", "--tables", ",".join(TABLES), env=env)


def test_killed_at_every_crash_point_a_rerun_loses_and_duplicates_nothing(settings):
    config = load_source(DEFAULT_SOURCE)
    database = settings.mysql.database
    lake = open_lake(settings.lake_uri)
    seed_database(settings.mysql, database, 0.001, 5)
    first = ingest(settings)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    lag = max(config.tables[t].safety_lag_seconds for t in TABLES) + 1

    for point, where in CRASH_POINTS:
        apply_changes(settings.mysql, database, 1)
        time.sleep(lag)  # the changes are older than the extract window's safety lag
        killed = ingest(settings, point)
        if where == "ingest":
            assert killed.returncode == -9, (point, killed.stderr[-2000:])
        else:  # the job died; the ingest reports it, names the job, and exits 1
            assert killed.returncode == 1, (point, killed.stdout[-2000:])
            assert f"job {where} exited with code -9" in killed.stdout, (point, killed.stdout)
        rerun = ingest(settings)
        assert rerun.returncode == 0, (point, rerun.stdout[-2000:], rerun.stderr[-2000:])
        tables = [json.loads(x) for x in rerun.stdout.splitlines() if x.startswith("{")]
        assert {t["table"]: t["status"] for t in tables} == {t: "ok" for t in TABLES}
        for r in reconcile(config, settings, database, lake, TABLES):
            assert r.equal, (point, r.as_dict())
            assert r.duplicate_keys == [] and r.source_rows > 0
