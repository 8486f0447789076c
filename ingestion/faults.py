"""Named crash points for tests: ``JLR_CRASH_AT=extract.chunk_committed:3`` makes the process
SIGKILL itself the third time it passes that point. Unset (always, outside tests), a crash point
costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

from ingestion.config.settings import Runtime

_passed: dict[str, int] = {}


def crash_point(name: str) -> None:
    spec = Runtime.load().crash_at
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _passed[name] = _passed.get(name, 0) + 1
    if _passed[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
