"""Two ingests of one source started together, as a schedule and a person might: one runs, the
other stops with one line naming the holder (or, asked to wait, runs afterwards); the warehouse
then reconciles with the source."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from ingestion.config.settings import REPO_ROOT
from ingestion.demo.generator import seed_database
from ingestion.lake import layout
from ingestion.lake.storage import open_lake
from tests.ingestion.test_cli import run_cli

TABLES = "plants,dealers,customers"


def start_ingest(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ingestion", "ingest", "--tables", TABLES, *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_ingest_of_a_running_source_waits_or_names_the_holder(settings):
    seed_database(settings.mysql, settings.mysql.database, 0.002, 5)
    env = {**os.environ, **settings.to_env(), "LOG_FORMAT": "json"}
    lake = open_lake(settings.lake_uri)
    first = start_ingest(env)
    deadline = time.monotonic() + 60
    while not lake.exists(layout.run_lock_key("jlr_ops")):  # the first run holds the lock
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    refused, waiting = start_ingest(env), start_ingest(env, "--wait", "600")

    refused_out, refused_err = refused.communicate(timeout=120)
    assert refused.returncode == 1, refused_out + refused_err
    message = " ".join(refused_err.split())
    assert "source jlr_ops is locked by run" in message and f"(pid {first.pid})" in message
    assert "Traceback" not in refused_err
    assert first.poll() is None  # refused while the first run was still going

    for process in (first, waiting):
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, out[-2000:] + err[-2000:]
    assert not lake.exists(layout.run_lock_key("jlr_ops"))  # both released it

    reconciled = run_cli("reconcile", "--tables", TABLES, env=env)
    assert reconciled.returncode == 0, reconciled.stdout[-3000:] + reconciled.stderr[-2000:]
