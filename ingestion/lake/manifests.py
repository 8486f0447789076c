"""The manifests that commit a raw run or a curated batch: one typed record each, one reader and
one writer. Their JSON is what readers of the lake (and earlier releases) see; fields added later
have defaults, so older manifests still read.

Also the columns every curated batch carries besides the source's (``LINEAGE_COLUMNS``).
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import TypeVar

from ingestion.errors import LakeError
from ingestion.lake.storage import Lake

RAW_FORMAT = "jlr.raw.v2"
CURATED_FORMAT = "jlr.curated.v1"
LINEAGE_COLUMNS = [
    # name, spark, postgres, redshift
    ("_batch_id", "string", "varchar(32)", "varchar(32)"),
    ("_extracted_at", "timestamp", "timestamptz", "timestamptz"),
    ("_source_file", "string", "varchar(1024)", "varchar(1024)"),
    ("_is_deleted", "boolean", "boolean", "boolean"),
]


@dataclass(frozen=True)
class RawManifest:
    """A committed extract run: its window, the source's columns with their MySQL contract and
    types, and every file (``kind`` data or delete) with rows, bytes and sha256."""

    source: str
    database: str
    table: str
    run_id: str
    mode: str  # full | incremental | append
    window: dict
    extracted_at: str
    committed_at: str
    primary_key: list[str]
    cursor: str | None
    soft_delete_column: str | None
    columns: list[dict]
    files: list[dict]
    row_count: int
    delete_count: int = 0
    zero_dates: dict[str, int] = field(default_factory=dict)
    keys: str | None = None  # the run's key list (delete detection), in the state area
    capture: dict | None = None  # mode cdc: events by operation, position reached, last commit
    format: str = RAW_FORMAT

    def files_of(self, kind: str) -> list[dict]:
        return [f for f in self.files if f.get("kind", "data") == kind]

    @property
    def records(self) -> int:
        """Every raw record: data rows and tombstones."""
        return self.row_count + self.delete_count


@dataclass(frozen=True)
class Counts:
    """A curated batch's counts: ``extracted = curated + rejected + duplicates_removed``;
    ``deletes`` (rows marking a deletion) are inside ``curated``."""

    extracted: int
    curated: int
    rejected: int
    duplicates_removed: int
    deletes: int = 0


@dataclass(frozen=True)
class CuratedManifest:
    """A committed curated batch: its Parquet files with their row counts (read back after
    writing), the columns with their Spark, PostgreSQL and Redshift types, and the counts."""

    source: str
    table: str
    batch_id: str
    mode: str
    primary_key: list[str]
    columns: list[dict]
    files: list[dict]
    counts: Counts
    raw_manifests: list[str] = field(default_factory=list)
    cursor: str | None = None
    rejects_prefix: str | None = None
    zero_dates_nulled: dict[str, int] = field(default_factory=dict)
    extracted_at: str | None = None
    curated_at: str | None = None
    format: str = CURATED_FORMAT
    capture: dict | None = None  # mode cdc: the raw run's binlog reading (position, events, lag)


Manifest = TypeVar("Manifest", RawManifest, CuratedManifest)


def _decode(cls: type[Manifest], key: str, value: object) -> Manifest:
    if not isinstance(value, dict):
        raise LakeError(f"{key} is not a manifest (expected a JSON object)")
    missing = [
        f.name
        for f in fields(cls)
        if f.name not in value and f.default is MISSING and f.default_factory is MISSING
    ]
    if missing:
        raise LakeError(f"{key} is not a {cls.__name__}: missing {', '.join(missing)}")
    known = {f.name: value[f.name] for f in fields(cls) if f.name in value}
    if cls is CuratedManifest:
        names = {f.name for f in fields(Counts)}
        known["counts"] = Counts(**{k: v for k, v in value["counts"].items() if k in names})
    return cls(**known)


def read_raw(lake: Lake, key: str) -> RawManifest:
    return _decode(RawManifest, key, lake.get_json(key))


def read_curated(lake: Lake, key: str) -> CuratedManifest:
    return _decode(CuratedManifest, key, lake.get_json(key))


def write(lake: Lake, key: str, manifest: RawManifest | CuratedManifest) -> None:
    """Write a manifest: the commit point of what it lists, so always written last."""
    lake.put_json(key, asdict(manifest))
