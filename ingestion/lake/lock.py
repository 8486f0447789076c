"""One run of a source at a time: a lock object in the lake's state area.

``_state/_locks/<source>.json`` holds the run id, host, process id and start time of the run that
holds it. It is created only if absent (a hard link locally, S3's conditional put on AWS), so of
two runs started together exactly one gets it; the other waits up to its bound, then stops with
one line naming the holder.

A lock left by a killed run is taken over: it is stale when its process is gone (same host) or
it is older than ``stale_seconds`` (any host; longer than any run may take). Two runs that find
the same stale lock race for a takeover marker named by the lock's content hash, created only if
absent, so only one of them replaces it (the markers stay: a few bytes per takeover). A holder
releases only its own lock. A lock is a run's by its run id, so a run spread over several
processes (a Step Functions execution: its name) takes and releases it in separate calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from ingestion.errors import PlatformError
from ingestion.lake import layout
from ingestion.lake.storage import Lake

DEFAULT_STALE_SECONDS = 12 * 3600


class SourceLocked(PlatformError):  # noqa: N818 - the name Step Functions retries on
    """Another run of the source holds its lock."""


@dataclass(frozen=True)
class Holder:
    run_id: str
    host: str
    pid: int | None
    started_at: str

    def describe(self) -> str:
        process = f" (pid {self.pid})" if self.pid else ""
        return f"run {self.run_id} on {self.host}{process} since {self.started_at}"

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes) -> Holder:
        value = json.loads(data)
        return cls(str(value["run_id"]), str(value["host"]), value.get("pid"), value["started_at"])


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return False


class RunLock:
    """``with RunLock(lake, source):`` runs the block holding the source's lock.

    ``run_id`` names the run (default: a new one); ``pid`` its process (default: this one; 0
    for none, as for a Step Functions execution, whose lock goes stale by age only)."""

    def __init__(
        self,
        lake: Lake,
        source: str,
        *,
        run_id: str | None = None,
        wait_seconds: float = 0,
        stale_seconds: float = DEFAULT_STALE_SECONDS,
        poll_seconds: float = 1.0,
        pid: int | None = None,
    ):
        self.lake, self.source, self.key = lake, source, layout.run_lock_key(source)
        self.wait_seconds, self.stale_seconds, self.poll_seconds = (
            wait_seconds,
            stale_seconds,
            poll_seconds,
        )
        self.holder = Holder(
            run_id or uuid.uuid4().hex[:12],
            socket.gethostname(),
            os.getpid() if pid is None else (pid or None),
            datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self.took_over: Holder | None = None

    def current(self) -> tuple[Holder, bytes] | None:
        """The holder of the source's lock now, and the lock's bytes; None when it is free."""
        if not self.lake.exists(self.key):
            return None
        try:
            data = self.lake.get_bytes(self.key)
        except PlatformError:  # released between the two calls
            return None
        try:
            return Holder.decode(data), data
        except (ValueError, KeyError, TypeError):  # unreadable: treat as a stale lock
            return Holder("unknown", "unknown", None, "1970-01-01T00:00:00+00:00"), data

    def is_stale(self, holder: Holder) -> bool:
        if holder.host == self.holder.host and holder.pid and _process_gone(holder.pid):
            return True
        started = datetime.fromisoformat(holder.started_at)
        return datetime.now(UTC) - started > timedelta(seconds=self.stale_seconds)

    def _take_over(self, holder: Holder, data: bytes) -> bool:
        marker = f"{self.key}.takeover-{hashlib.sha256(data).hexdigest()[:16]}"
        if not self.lake.put_if_absent(marker, self.holder.encode()):
            return False  # another run is taking this stale lock over
        self.lake.put_bytes(self.key, self.holder.encode())
        self.took_over = holder
        return True

    def try_acquire(self) -> Holder | None:
        """Take the lock if free or stale; otherwise return who holds it."""
        while True:
            if self.lake.put_if_absent(self.key, self.holder.encode()):
                return None
            found = self.current()
            if found is not None:
                break  # else it was released in between: try again
        holder, data = found
        if holder.run_id == self.holder.run_id:  # ours already (a retried acquire of one run)
            return None
        if self.is_stale(holder) and self._take_over(holder, data):
            return None
        return holder

    def acquire(self) -> RunLock:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            holder = self.try_acquire()
            if holder is None:
                return self
            if time.monotonic() >= deadline:
                waited = f" after waiting {self.wait_seconds:g}s" if self.wait_seconds else ""
                raise SourceLocked(
                    f"source {self.source} is locked by {holder.describe()}{waited}: run again "
                    "when it has finished, or wait for it (--wait SECONDS; make ingest "
                    "WAIT=SECONDS); a lock whose process is gone is taken over automatically "
                    f"({self.lake.url(self.key)})"
                )
            time.sleep(min(self.poll_seconds, max(0.0, deadline - time.monotonic())))

    def release(self) -> None:
        """Delete the lock if it is still ours (a run that outlived its stale bound may have lost
        it to a takeover: then it is left to its new holder)."""
        found = self.current()
        if found is not None and found[0].run_id == self.holder.run_id:
            self.lake.delete(self.key)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
