"""The per-source run lock: one holder at a time, a clear refusal naming the holder, waiting up
to a bound, and a safe takeover of a lock left by a killed run. Locally and on S3 (moto)."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from ingestion.lake.lock import Holder, RunLock, SourceLocked
from ingestion.lake.storage import LocalLake, S3Lake


@pytest.fixture
def lake(tmp_path):
    return LocalLake(tmp_path)


def plant(lake, source, holder: Holder) -> None:
    lake.put_bytes(f"_state/_locks/{source}.json", holder.encode())


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_put_if_absent_writes_once(lake):
    assert lake.put_if_absent("_state/x.json", b"first")
    assert not lake.put_if_absent("_state/x.json", b"second")
    assert lake.get_bytes("_state/x.json") == b"first"
    assert lake.list("_state/") == ["_state/x.json"]  # no temporary file left behind


def test_a_second_run_is_refused_with_the_holder_named_then_gets_the_lock(lake):
    first = RunLock(lake, "src", run_id="run-a").acquire()
    with pytest.raises(SourceLocked) as refused:
        RunLock(lake, "src", run_id="run-b").acquire()
    message = str(refused.value)
    assert "source src is locked by run run-a on" in message
    assert f"(pid {first.holder.pid})" in message and "--wait SECONDS" in message
    with RunLock(lake, "other", run_id="run-c"):  # another source is not blocked
        pass
    first.release()
    with RunLock(lake, "src", run_id="run-b") as second:
        assert second.current()[0].run_id == "run-b"
    assert second.current() is None  # released on leaving the block


def test_a_waiting_run_gets_the_lock_when_the_holder_finishes(lake):
    holder = RunLock(lake, "src", run_id="run-a").acquire()
    threading.Timer(0.5, holder.release).start()
    started = time.monotonic()
    with RunLock(lake, "src", run_id="run-b", wait_seconds=30, poll_seconds=0.1):
        waited = time.monotonic() - started
    assert 0.4 < waited < 10


def test_waiting_is_bounded(lake):
    RunLock(lake, "src", run_id="run-a").acquire()
    started = time.monotonic()
    with pytest.raises(SourceLocked, match="after waiting 0.5s"):
        RunLock(lake, "src", run_id="run-b", wait_seconds=0.5, poll_seconds=0.1).acquire()
    assert time.monotonic() - started < 5


def test_a_lock_whose_process_is_gone_is_taken_over(lake):
    me = RunLock(lake, "src", run_id="run-b")
    killed = Holder("run-a", me.holder.host, dead_pid(), datetime.now(UTC).isoformat())
    plant(lake, "src", killed)
    with me:
        assert me.took_over == killed
        assert me.current()[0] == me.holder


def test_a_live_lock_of_another_host_is_kept_until_it_is_older_than_the_bound(lake):
    now = datetime.now(UTC)
    plant(lake, "src", Holder("run-a", "elsewhere", 1, now.isoformat()))
    with pytest.raises(SourceLocked, match="run run-a on elsewhere"):
        RunLock(lake, "src", run_id="run-b", stale_seconds=3600).acquire()
    old = Holder("run-a", "elsewhere", 1, (now - timedelta(hours=2)).isoformat())
    plant(lake, "src", old)
    with RunLock(lake, "src", run_id="run-b", stale_seconds=3600) as taker:
        assert taker.took_over == old


def test_two_runs_taking_over_one_stale_lock_end_with_one_holder(lake):
    plant(lake, "src", Holder("run-a", "elsewhere", None, "2000-01-01T00:00:00+00:00"))
    first, second = RunLock(lake, "src", run_id="run-b"), RunLock(lake, "src", run_id="run-c")
    found_by_first, found_by_second = first.current(), second.current()  # both see it stale
    assert first._take_over(*found_by_first)
    assert not second._take_over(*found_by_second)
    with pytest.raises(SourceLocked, match="run run-b"):
        second.acquire()


def test_a_run_releases_only_its_own_lock(lake):
    mine = RunLock(lake, "src", run_id="run-a").acquire()
    plant(lake, "src", Holder("run-b", "elsewhere", None, datetime.now(UTC).isoformat()))
    mine.release()  # it lost the lock (to a takeover): the new holder keeps it
    assert mine.current()[0].run_id == "run-b"


def test_the_lock_on_s3_uses_a_conditional_put(aws):
    bucket = f"jlr-lock-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    lake = S3Lake(bucket, "lake")
    assert lake.put_if_absent("_state/x.json", b"first")
    assert not lake.put_if_absent("_state/x.json", b"second")
    assert lake.get_bytes("_state/x.json") == b"first"
    holder = RunLock(lake, "src", run_id="execution-1", pid=0).acquire()
    assert holder.holder.pid is None  # a Step Functions execution has no process to check
    with pytest.raises(SourceLocked, match="run execution-1"):
        RunLock(lake, "src", run_id="execution-2", pid=0).acquire()
    holder.release()
    with RunLock(lake, "src", run_id="execution-2", pid=0):
        pass
