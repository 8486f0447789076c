"""Extraction runs under change and failure, against a real MariaDB: incremental windows,
hard-delete detection, a failed run, kill -9 and resume, parallel streams."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.config.settings import REPO_ROOT
from ingestion.config.source import load_source
from ingestion.demo.changes import apply_changes
from ingestion.demo.generator import seed_database
from ingestion.errors import LakeError
from ingestion.lake.layout import raw_manifests
from ingestion.lake.state import TableState
from ingestion.lake.storage import open_lake
from ingestion.source.extract import extract_table
from ingestion.source.mysql import connect


def write_config(tmp_path: Path, tables: str) -> Path:
    path = tmp_path / "src.yml"
    path.write_text(f"name: src\ndatabase: src\nwarehouse_schema: src_staging\ntables:\n{tables}")
    return path


INCREMENTAL = """  sales_orders:
    mode: incremental
    cursor: updated_at
    lookback_seconds: 0
    safety_lag_seconds: 0
    hard_deletes: true
    chunk_rows: 1000
"""


def query(settings, sql, *params):
    with connect(settings.mysql, settings.mysql.database) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def raw_records(lake, manifest_key, kind="data"):
    records = []
    for f in lake.get_json(manifest_key)["files"]:
        if f["kind"] == kind:
            with gzip.open(lake.path(f["key"]), "rt", encoding="utf-8") as handle:
                records += [json.loads(line) for line in handle]
    return records


def test_incremental_takes_exactly_the_changed_rows_and_detects_deletes(settings, tmp_path):
    seed_database(settings.mysql, settings.mysql.database, 0.002, 42)
    config = load_source(write_config(tmp_path, INCREMENTAL))
    lake = open_lake(settings.lake_uri)
    first = extract_table(config, settings.mysql, lake, "sales_orders")
    assert (first.mode, first.rows, first.deletes) == ("full", 2000, 0)
    keys_before = {r[0] for r in query(settings, "select order_id from sales_orders")}

    changes = apply_changes(settings.mysql, settings.mysql.database, 1)
    second = extract_table(config, settings.mysql, lake, "sales_orders")
    assert second.mode == "incremental"
    assert second.window["low"] == first.window["high"]
    changed = {
        r[0]
        for r in query(
            settings,
            "select order_id from sales_orders where updated_at > %s and updated_at <= %s",
            second.window["low"],
            second.window["high"],
        )
    }
    extracted = [r["order_id"] for r in raw_records(lake, second.manifest_key)]
    assert len(extracted) == len(set(extracted)) == second.rows
    assert set(extracted) == changed
    assert len(changed) >= changes["orders inserted"] + changes["orders advanced"]

    keys_after = {r[0] for r in query(settings, "select order_id from sales_orders")}
    tombstones = [r["order_id"] for r in raw_records(lake, second.manifest_key, "delete")]
    assert set(tombstones) == keys_before - keys_after
    assert len(tombstones) == second.deletes == changes["orders hard-deleted"] > 0

    third = extract_table(config, settings.mysql, lake, "sales_orders")
    assert (third.mode, third.rows, third.deletes) == ("incremental", 0, 0)
    assert third.window["low"] == second.window["high"]


def test_a_failed_run_keeps_the_watermark_and_the_rerun_duplicates_nothing(
    settings, tmp_path, monkeypatch
):
    seed_database(settings.mysql, settings.mysql.database, 0.002, 42)
    config = load_source(write_config(tmp_path, INCREMENTAL))
    lake = open_lake(settings.lake_uri)
    extract_table(config, settings.mysql, lake, "sales_orders")
    state = TableState(lake, "src", "sales_orders")
    watermark = state.watermark()
    query(settings, "update sales_orders set updated_at = utc_timestamp(6) where order_id <= 1500")

    import ingestion.source.stream as stream_module

    real_commit, commits = stream_module._commit_chunk, []

    def failing_commit(*args, **kwargs):
        if commits:
            raise LakeError("simulated: the lake refused a write")
        commits.append(1)
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(stream_module, "_commit_chunk", failing_commit)
    with pytest.raises(LakeError, match="simulated"):
        extract_table(config, settings.mysql, lake, "sales_orders")
    assert state.watermark() == watermark
    assert len(raw_manifests(lake, "src", "sales_orders")) == 1
    inflight = state.inflight()
    assert inflight is not None

    monkeypatch.setattr(stream_module, "_commit_chunk", real_commit)
    rerun = extract_table(config, settings.mysql, lake, "sales_orders")
    assert rerun.resumed and rerun.run_id == inflight["run_id"]
    assert rerun.window == inflight["window"]
    keys = [r["order_id"] for r in raw_records(lake, rerun.manifest_key)]
    assert len(keys) == len(set(keys)) == 1500 == rerun.rows
    assert set(keys) == set(range(1, 1501))
    assert state.watermark()["high"] == inflight["window"]["high"]
    assert state.inflight() is None


CHILD = """
import sys
from ingestion.config.source import load_source
from ingestion.source.extract import extract_table
from ingestion.lake.storage import open_lake
from ingestion.config.settings import Settings
settings = Settings.load()
extract_table(load_source(sys.argv[1]), settings.mysql, open_lake(settings.lake_uri), "big")
"""


def make_big_table(settings, rows=10_000):
    query(settings, "create table big (id int primary key, v varchar(20), d date)")
    query(
        settings,
        f"insert into big select seq, concat('v', seq), if(mod(seq, 7) = 0, "
        f"'0000-00-00', '2024-01-01') from seq_1_to_{rows}",
    )


def extract_in_child(settings, config_path, crash_at):
    env = {**os.environ, **settings.to_env(), "JLR_CRASH_AT": crash_at}
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(config_path)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_kill_9_mid_extract_resumes_and_the_union_equals_the_table(settings, tmp_path):
    make_big_table(settings)
    config_path = write_config(tmp_path, "  big:\n    chunk_rows: 1000\n")
    lake = open_lake(settings.lake_uri)
    killed = extract_in_child(settings, config_path, "extract.chunk_committed:4")
    assert killed.returncode == -9, killed.stderr
    assert raw_manifests(lake, "src", "big") == []
    assert len(lake.list("raw/src/big/", ".json")) == 4  # four chunk markers, no manifest

    result = extract_table(load_source(config_path), settings.mysql, lake, "big")
    assert result.resumed and result.files == 10 and result.rows == 10_000
    ids = [r["id"] for r in raw_records(lake, result.manifest_key)]
    assert sorted(ids) == list(range(1, 10_001))
    assert result.zero_dates == {"d": 10_000 // 7}


def test_kill_between_manifest_and_watermark_is_finished_not_redone(settings, tmp_path):
    make_big_table(settings, 3000)
    config_path = write_config(tmp_path, "  big:\n    chunk_rows: 1000\n")
    lake = open_lake(settings.lake_uri)
    killed = extract_in_child(settings, config_path, "extract.before_watermark:1")
    assert killed.returncode == -9, killed.stderr
    (committed,) = raw_manifests(lake, "src", "big")
    state = TableState(lake, "src", "big")
    assert state.watermark() is None and state.inflight() is not None

    result = extract_table(load_source(config_path), settings.mysql, lake, "big")
    assert not result.resumed  # the committed run was finished, then a new one ran
    assert raw_manifests(lake, "src", "big")[0] == committed
    assert len(raw_manifests(lake, "src", "big")) == 2
    assert state.watermark()["manifest"] == result.manifest_key


def test_parallel_streams_cover_the_table_once(settings, tmp_path):
    make_big_table(settings)
    config_path = write_config(tmp_path, "  big:\n    chunk_rows: 1000\n    streams: 2\n")
    lake = open_lake(settings.lake_uri)
    result = extract_table(load_source(config_path), settings.mysql, lake, "big")
    ids = [r["id"] for r in raw_records(lake, result.manifest_key)]
    assert sorted(ids) == list(range(1, 10_001))
    streams = {f["key"].split("part-")[1][:3] for f in lake.get_json(result.manifest_key)["files"]}
    assert streams == {"s00", "s01"}


@pytest.mark.parametrize("parallel", ["processes", "threads"])
def test_parallel_streams_stop_at_the_deadline_and_resume_exactly_once(
    settings, tmp_path, parallel
):
    """The caller's deadline reaches every stream, in worker processes (local) and in threads
    (Lambda): each stops after a committed chunk, and the next run finishes with every row once."""
    make_big_table(settings)
    config = load_source(write_config(tmp_path, "  big:\n    chunk_rows: 1000\n    streams: 2\n"))
    lake = open_lake(settings.lake_uri)
    rows_seen = []
    stopped = extract_table(
        config,
        settings.mysql,
        lake,
        "big",
        should_stop=lambda: True,  # the deadline is already near
        on_rows=rows_seen.append,
        parallel=parallel,
    )
    assert stopped.status == "continue" and stopped.manifest_key is None
    committed = lake.list("raw/src/big/", ".json")
    assert 2 <= len(committed) < 10  # a chunk or so per stream, not the whole table
    assert 0 < sum(rows_seen) < 10_000
    result = extract_table(config, settings.mysql, lake, "big", parallel=parallel)
    assert result.resumed and result.rows == 10_000
    ids = [r["id"] for r in raw_records(lake, result.manifest_key)]
    assert sorted(ids) == list(range(1, 10_001))


def test_a_full_refresh_drops_an_unfinished_run_and_reads_everything(
    settings, tmp_path, monkeypatch
):
    seed_database(settings.mysql, settings.mysql.database, 0.002, 42)
    config = load_source(write_config(tmp_path, INCREMENTAL))
    lake = open_lake(settings.lake_uri)
    extract_table(config, settings.mysql, lake, "sales_orders")
    query(settings, "update sales_orders set updated_at = utc_timestamp(6) where order_id <= 1500")
    import ingestion.source.stream as stream_module

    def failing_commit(*args, **kwargs):
        raise LakeError("simulated: the lake refused a write")

    monkeypatch.setattr(stream_module, "_commit_chunk", failing_commit)
    with pytest.raises(LakeError):
        extract_table(config, settings.mysql, lake, "sales_orders")
    unfinished = TableState(lake, "src", "sales_orders").inflight()["run_id"]
    monkeypatch.undo()

    refreshed = extract_table(config, settings.mysql, lake, "sales_orders", full_refresh=True)
    assert (refreshed.mode, refreshed.rows, refreshed.resumed) == ("full", 2000, False)
    assert lake.list(f"raw/src/sales_orders/run={unfinished}/") == []
    assert TableState(lake, "src", "sales_orders").inflight() is None
