"""``mode: cdc`` end to end on the local MariaDB (binlog on, ROW, FULL images and metadata): a
first run copies a snapshot and takes its position; later runs read the binary log from the
committed position. Changes that no cursor column could see (a table without one), deletes, a
key that moves, a rolled-back transaction, a large transaction, a key deleted and inserted again
and a column added between runs all reach staging; a purged binlog is one clear error, or with
``on_binlog_loss: resnapshot`` a new snapshot."""

from __future__ import annotations

import os
import time

from ingestion.config.source import load_source
from ingestion.lake.storage import open_lake
from ingestion.pipeline import run_ingest
from ingestion.reconcile import reconcile
from ingestion.source.mysql import connect
from ingestion.warehouse.postgres import pg_connect
from tests.ingestion.test_cli import run_cli

CONFIG = """name: capture
database: {database}
warehouse_schema: capture_staging
tables:
  accounts:
    mode: cdc
{extra}"""


def source(settings, *statements):
    with connect(settings.mysql, settings.mysql.database) as conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def accounts(settings, tmp_path, rows: str, extra: str = ""):
    """The test's source table (no cursor column) with ``rows`` inserted by a select or a
    values list, and a source file reading it in mode cdc; returns (path, config)."""
    source(
        settings,
        "create table accounts (id int primary key, name varchar(20), balance decimal(12,2))",
        f"insert into accounts {rows}",
    )
    path = tmp_path / "capture.yml"
    path.write_text(CONFIG.format(database=settings.mysql.database, extra=extra))
    return path, load_source(path)


def staged(settings) -> list[tuple]:
    with pg_connect(settings.postgres) as conn:
        return conn.execute(
            "select id, name, balance from capture_staging.accounts order by id"
        ).fetchall()


def purge_binary_logs(settings) -> None:
    """Every binlog file but a new one gone, as the server's retention would do it. The server
    keeps a file until its transactions are checkpointed, so purge until it is gone."""
    with connect(settings.mysql) as conn, conn.cursor() as cur:
        cur.execute("flush binary logs")
        cur.execute("show master status")
        newest = cur.fetchone()[0]
        for _ in range(50):
            cur.execute("purge binary logs to %s", (newest,))
            cur.execute("show binary logs")
            if [r[0] for r in cur.fetchall()] == [newest]:
                return
            time.sleep(0.2)
    raise AssertionError("the server kept its older binlog files")


def ingest_and_reconcile(settings, config):
    database = settings.mysql.database
    (run,) = run_ingest(config, settings, database, ["accounts"])
    (result,) = reconcile(config, settings, database, open_lake(settings.lake_uri), ["accounts"])
    return run, result


def test_cdc_snapshot_then_binlog(settings, tmp_path):
    # no updated_at: no cursor could find these changes
    path, config = accounts(
        settings,
        tmp_path,
        "values (1, 'amy', 10), (2, 'bob', 20), (3, 'cy', 30), (4, 'di', 40), (5, 'ed', 50)",
    )
    run, result = ingest_and_reconcile(settings, config)
    assert (run.status, run.mode, run.loaded) == ("ok", "full", 5), run.error  # the snapshot
    assert result.equal, result.as_dict()

    with connect(settings.mysql, settings.mysql.database) as conn, conn.cursor() as cur:
        cur.execute("insert into accounts values (6, 'fay', 60)")
        cur.execute("update accounts set balance = 21 where id = 2")
        cur.execute("delete from accounts where id = 3")
        cur.execute("update accounts set id = 40 where id = 4")  # the key moves
        cur.execute("delete from accounts where id = 5")
        cur.execute("insert into accounts values (5, 'ed again', 55)")  # deleted, then back
        cur.execute("start transaction")
        cur.execute("insert into accounts values (7, 'never', 0)")
        cur.execute("update accounts set balance = -1 where id = 1")
        cur.execute("rollback")  # never in the binlog
        cur.execute("start transaction")  # one large transaction
        cur.execute(
            "insert into accounts select 1000 + seq, concat('bulk ', seq), seq from seq_1_to_20000"
        )
        cur.execute("commit")
        cur.execute("alter table accounts add column tier varchar(5)")  # between two runs
        cur.execute("update accounts set tier = 'gold' where id = 1")
    run, result = ingest_and_reconcile(settings, config)
    assert (run.status, run.mode) == ("ok", "cdc"), run.error
    assert run.capture["events"] == {"c": 20002, "u": 3, "d": 2}
    with pg_connect(settings.postgres) as conn:
        audit = conn.execute(
            "select binlog_position, events_inserted, events_updated, events_deleted, "
            "capture_lag_seconds >= 0 from ops.load_audit where mode = 'cdc'"
        ).fetchall()
    position = run.capture["position"]
    assert audit == [(f"{position['file']}:{position['pos']}", 20002, 3, 2, True)]
    assert run.extracted == run.loaded + run.deletes_applied  # rows read by key + tombstones
    assert result.equal, result.as_dict()
    rows = staged(settings)
    assert rows[:5] == [(1, "amy", 10), (2, "bob", 21), (5, "ed again", 55), (6, "fay", 60),
                        (40, "di", 40)]  # fmt: skip
    assert len(rows) == 20005

    # a widening between runs, then a quiet source: an empty window, nothing read
    source(
        settings,
        "alter table accounts modify name varchar(40)",
        "update accounts set name = 'a name longer than twenty' where id = 6",
    )
    run, result = ingest_and_reconcile(settings, config)
    assert (run.status, run.loaded) == ("ok", 1), run.error
    assert result.equal, result.as_dict()
    run, result = ingest_and_reconcile(settings, config)
    assert (run.status, run.mode, run.extracted) == ("ok", "cdc", 0), run.error
    assert result.equal

    # the log purged past the committed position: one clear error, staging untouched
    source(settings, "update accounts set name = 'amy b' where id = 1")
    purge_binary_logs(settings)
    (run,) = run_ingest(config, settings, settings.mysql.database, ["accounts"])
    assert run.status == "failed"
    assert "has been purged: the changes since the last run can no longer be read" in run.error
    assert "on_binlog_loss: resnapshot" in run.error and "--full-refresh" in run.error
    assert staged(settings)[0] == (1, "amy", 10)

    path.write_text(
        CONFIG.format(database=settings.mysql.database, extra="    on_binlog_loss: resnapshot\n")
    )
    config = load_source(path)
    run, result = ingest_and_reconcile(settings, config)
    assert (run.status, run.mode) == ("ok", "full"), run.error
    assert run.note.startswith("resnapshot: ")
    assert result.equal, result.as_dict()
    assert staged(settings)[0] == (1, "amy b", 10)


def test_cdc_killed_anywhere_a_rerun_loses_and_doubles_nothing(settings, tmp_path):
    """SIGKILL mid-stream (changes read, rows half written), before the position commits, and
    after the manifest but before the watermark: the rerun finishes the same window."""
    path, config = accounts(
        settings,
        tmp_path,
        "select seq, concat('a', seq), seq from seq_1_to_3000",
        "    chunk_rows: 1000\n",
    )
    env = {**os.environ, **settings.to_env()}
    assert run_cli("ingest", "--source", str(path), env=env).returncode == 0
    for step, point in enumerate(
        [
            "extract.cdc_changes_read:1",
            "extract.chunk_committed:2",
            "extract.before_manifest:1",
            "extract.before_watermark:1",
        ]
    ):
        source(
            settings,
            f"update accounts set balance = balance + 1 where id % 2 = {step % 2}",
            f"delete from accounts where id = {10 + step}",
            f"insert into accounts values ({5000 + step}, 'new', 1)",
        )
        killed = run_cli("ingest", "--source", str(path), env={**env, "JLR_CRASH_AT": point})
        assert killed.returncode == -9, (point, killed.stderr[-2000:])
        again = run_cli("ingest", "--source", str(path), env=env)
        assert again.returncode == 0, (point, again.stdout[-3000:], again.stderr[-2000:])
        (result,) = reconcile(
            config, settings, settings.mysql.database, open_lake(settings.lake_uri), ["accounts"]
        )
        assert result.equal and not result.duplicate_keys, (point, result.as_dict())


def test_a_transaction_committed_during_a_run_is_in_it_whole_or_not_at_all(
    settings, tmp_path, monkeypatch
):
    """A run reads the log up to its snapshot's own binlog position and the changed rows in
    that snapshot: a transaction that commits while the run reads (here: right after the
    snapshot opens, touching a key the run reads and one it does not) is wholly in the next
    run, never half in this one."""
    from ingestion.source import binlog

    path, config = accounts(settings, tmp_path, "values (1, 'amy', 10), (2, 'bob', 20)")
    assert ingest_and_reconcile(settings, config)[1].equal
    source(settings, "update accounts set name = 'amy b' where id = 1")

    real = binlog.snapshot_position

    def snapshot_then_a_transfer(cur):
        position = real(cur)
        source(
            settings,
            "start transaction",
            "update accounts set balance = balance - 5 where id = 1",
            "update accounts set balance = balance + 5 where id = 2",
            "commit",
        )
        return position

    monkeypatch.setattr(binlog, "snapshot_position", snapshot_then_a_transfer)
    (run,) = run_ingest(config, settings, settings.mysql.database, ["accounts"])
    assert (run.status, run.mode, run.loaded) == ("ok", "cdc", 1), run.error
    assert staged(settings) == [(1, "amy b", 10), (2, "bob", 20)]  # the transfer: not yet

    monkeypatch.setattr(binlog, "snapshot_position", real)
    run, result = ingest_and_reconcile(settings, config)
    assert (run.status, run.capture["events"]) == ("ok", {"c": 0, "u": 2, "d": 0}), run.error
    assert result.equal, result.as_dict()
    assert staged(settings) == [(1, "amy b", 5), (2, "bob", 25)]


def test_a_cdc_run_stopped_at_its_deadline_continues_with_the_same_keys(settings, tmp_path):
    """The Lambda's continuation: a run told to stop (its invocation's deadline) after its first
    chunk keeps the keys it read from the log and its window under the run; the next call
    reads the rest, and the batch holds every changed key once."""
    import gzip
    import json

    from ingestion.source.extract import extract_table

    path, config = accounts(
        settings,
        tmp_path,
        "select seq, concat('a', seq), seq from seq_1_to_8000",
        "    chunk_rows: 1000\n",
    )
    lake = open_lake(settings.lake_uri)
    first = extract_table(config, settings.mysql, lake, "accounts", parallel="threads")
    assert (first.status, first.mode, first.rows) == ("committed", "full", 8000)
    source(settings, "update accounts set balance = balance + 1 where id <= 6000")

    stopped = extract_table(config, settings.mysql, lake, "accounts", should_stop=lambda: True)
    assert (stopped.status, stopped.mode) == ("continue", "cdc")
    done = extract_table(config, settings.mysql, lake, "accounts")
    assert (done.status, done.resumed, done.rows) == ("committed", True, 6000)
    assert done.window == stopped.window  # the same window: the position carried over
    keys = []
    for f in lake.get_json(done.manifest_key)["files"]:
        with gzip.open(lake.path(f["key"]), "rt", encoding="utf-8") as handle:
            keys += [json.loads(line)["id"] for line in handle]
    assert sorted(keys) == list(range(1, 6001))
