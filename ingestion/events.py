"""What the Glue jobs tell whoever runs them: one JSON line per event on stdout.

The jobs write these (``emit``); the local pipeline reads them back from the job's output
(``parse``). In Glue the same lines land in the job's CloudWatch log. Each kind of event is one
dataclass, so both sides name the same fields.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import ClassVar


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str]

    def line(self) -> str:
        return json.dumps({"event": self.kind, **asdict(self)})


@dataclass(frozen=True)
class BatchEvent(Event):
    """Something a job did to one batch (its id is the raw extract run it came from)."""

    table: str
    batch_id: str
    manifest_key: str
    seconds: float


@dataclass(frozen=True)
class BatchCurated(BatchEvent):
    """A raw run became a committed curated batch. ``deletes`` counts the rows that mark a
    deletion (tombstones, soft deletes); they are inside ``curated``."""

    kind: ClassVar[str] = "batch_curated"
    extracted: int
    curated: int
    rejected: int
    duplicates_removed: int
    deletes: int
    files: int
    zero_dates: int = 0  # zero-in-date values the job made null (the extractor counts its own)


@dataclass(frozen=True)
class BatchLoaded(BatchEvent):
    """A curated batch reached the warehouse (status ``loaded``), was already there
    (``skipped``) or was audited without loading (``superseded``: a newer full batch replaces
    the table)."""

    kind: ClassVar[str] = "batch_loaded"
    status: str
    rows_loaded: int
    rows_deleted: int
    rows_tombstoned: int


@dataclass(frozen=True)
class Failed(Event):
    """A table failed in a job, which went on with the others; or, without a table, the job as
    a whole failed (nothing after the failure was done)."""

    kind: ClassVar[str] = "failed"
    job: str
    error: str
    table: str | None = None


@dataclass(frozen=True)
class JobFinished(Event):
    kind: ClassVar[str] = "job_finished"
    job: str
    tables: int
    batches: int
    failed: int = 0


KINDS: dict[str, type[Event]] = {
    cls.kind: cls for cls in (BatchCurated, BatchLoaded, Failed, JobFinished)
}


def emit(event: Event) -> None:
    print(event.line(), flush=True)


def parse(line: str) -> Event | None:
    """The event a job's output line carries; None for any other line."""
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    cls = KINDS.get(value.get("event")) if isinstance(value, dict) else None
    if cls is None:
        return None
    return cls(**{f.name: value[f.name] for f in fields(cls) if f.name in value})
