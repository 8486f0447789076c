"""The warehouse boundary: what every backend shares when it loads curated batches.

Two backends implement it: ``warehouse_postgres`` (the local stand-in, psycopg ``COPY FROM
STDIN``) and ``warehouse_redshift`` (Redshift through the Data API, ``COPY ... FORMAT AS
PARQUET``). Both follow the same flow per table:

1. the batches whose curated manifest is not yet in ``ops.load_audit`` are pending, oldest first;
   when several full batches wait, only the newest is applied and the older ones are audited as
   superseded (each full batch replaces the whole table);
2. the staging table is created from the batch's contract, or evolved by the schema policy below;
3. in one transaction, under a per-table lock: bulk-load into a temporary table, apply it (full:
   replace the rows; incremental: delete the batch's keys, insert its live rows, so tombstones only
   delete; append: insert the rows as they are), and insert the audit row keyed by the manifest.
   A manifest already audited is skipped.
   The keys an incremental batch deletes (its tombstones) are recorded in ``ops.deleted_keys`` in
   the same transaction, so that models built on staging can remove exactly those keys instead of
   comparing every row with staging. A full batch records none: it replaces the whole table
   (its audit row says so, and such models then compare everything once).

Schema policy (both backends, so the local run behaves as production will):

* a new column in the batch is added to the staging table (nullable);
* a VARCHAR that got longer is widened in place;
* any other type change, narrowing included, stops that table with a message saying what to do;
  nothing is altered;
* a column the batch no longer carries stays in staging and is NULL in new rows (staging columns
  are nullable except the primary key and the lineage columns).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Protocol

from ingestion.errors import LoadError, PlatformError
from ingestion.lake.layout import curated_manifests
from ingestion.lake.manifests import CuratedManifest, read_curated
from ingestion.lake.storage import Lake

LOADED_AT = "_loaded_at"
NOT_NULL_LINEAGE = ("_batch_id", "_extracted_at", "_is_deleted")

# ops.load_audit, one row per curated manifest: (column, PostgreSQL type, Redshift type).
AUDIT_COLUMNS = [
    ("manifest_key", "text", "varchar(1024)"),
    ("source", "text", "varchar(128)"),
    ("table_name", "text", "varchar(128)"),
    ("batch_id", "text", "varchar(64)"),
    ("mode", "text", "varchar(16)"),
    ("status", "text", "varchar(16)"),
    ("rows_extracted", "bigint", "bigint"),
    ("rows_rejected", "bigint", "bigint"),
    ("duplicates_removed", "bigint", "bigint"),
    ("rows_curated", "bigint", "bigint"),
    ("rows_loaded", "bigint", "bigint"),
    ("rows_deleted", "bigint", "bigint"),
    ("rows_tombstoned", "bigint", "bigint"),
    ("started_at", "timestamptz", "timestamptz"),
    ("finished_at", "timestamptz", "timestamptz"),
    ("load_id", "text", "varchar(64)"),
    # mode cdc: the binlog position the batch reached, its capture lag (seconds from the last
    # change's commit until the extract committed it) and the events read, by operation
    ("binlog_position", "text", "varchar(256)"),
    ("capture_lag_seconds", "double precision", "double precision"),
    ("events_inserted", "bigint", "bigint"),
    ("events_updated", "bigint", "bigint"),
    ("events_deleted", "bigint", "bigint"),
]

# ops.deleted_keys, one row per key an incremental batch deleted: (column, PostgreSQL, Redshift).
# key_value is the key as text; the values of a composite key are joined by DELETED_KEY_SEPARATOR.
DELETED_KEY_COLUMNS = [
    ("source", "text", "varchar(128)"),
    ("table_name", "text", "varchar(128)"),
    ("key_value", "text", "varchar(1024)"),
    ("batch_id", "text", "varchar(64)"),
    ("manifest_key", "text", "varchar(1024)"),
    ("deleted_at", "timestamptz", "timestamptz"),
]
DELETED_KEY_SEPARATOR = "|"


def capture_columns(capture: dict | None) -> tuple:
    """The audit's cdc columns from a manifest's ``capture`` (all null for other modes)."""
    if not capture:
        return (None, None, None, None, None)
    position, events = capture["position"], capture["events"]
    return (
        f"{position['file']}:{position['pos']}",
        float(capture["lag_seconds"]),
        int(events["c"]),
        int(events["u"]),
        int(events["d"]),
    )


@dataclass
class LoadResult:
    table: str
    batch_id: str
    manifest_key: str
    status: str  # loaded | skipped (already audited) | superseded (a newer full batch)
    rows_loaded: int
    rows_deleted: int  # rows removed from the staging table (replaced, merged or deleted)
    seconds: float
    rows_tombstoned: int = 0  # rows of the batch that mark a deletion

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class TableFailure:
    table: str
    error: str


@dataclass(frozen=True)
class PendingBatch:
    """A committed curated batch not yet in the audit. ``superseded``: a newer full batch of
    the table waits too, so this one is audited without being applied."""

    key: str
    manifest: CuratedManifest
    superseded: bool = False


class Warehouse(Protocol):
    """One backend. ``load_batch`` applies one manifest exactly once, atomically."""

    def prepare(self) -> None: ...

    def audited_manifests(self, source: str, table: str) -> set[str]: ...

    def load_batch(self, lake: Lake, schema: str, batch: PendingBatch) -> LoadResult: ...


def pending_batches(lake: Lake, source: str, table: str, done: set[str]) -> list[PendingBatch]:
    """Every batch of the table not yet audited, oldest first."""
    pending = [
        (k, read_curated(lake, k)) for k in curated_manifests(lake, source, table) if k not in done
    ]
    fulls = [i for i, (_, m) in enumerate(pending) if m.mode == "full"]
    last_full = fulls[-1] if fulls else -1
    return [PendingBatch(k, m, i < last_full) for i, (k, m) in enumerate(pending)]


def load_pending(
    warehouse: Warehouse, lake: Lake, source: str, schema: str, tables: Iterable[str]
) -> tuple[list[LoadResult], list[TableFailure]]:
    """Load every pending batch of each table. A table that fails stops at its failing batch
    (later batches would apply out of order) and the other tables go on."""
    warehouse.prepare()
    results: list[LoadResult] = []
    failures: list[TableFailure] = []
    for table in tables:
        try:
            done = warehouse.audited_manifests(source, table)
            for batch in pending_batches(lake, source, table, done):
                results.append(warehouse.load_batch(lake, schema, batch))
        except PlatformError as exc:
            failures.append(TableFailure(table, str(exc)))
    return results, failures


# --- types and the schema policy -------------------------------------------------------------

_ALIASES = {
    "character varying": "varchar",
    "nvarchar": "varchar",
    "character": "char",
    "bpchar": "char",
    "nchar": "char",
    "decimal": "numeric",
    "int": "integer",
    "int4": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "float8": "double precision",
    "float": "double precision",
    "float4": "real",
    "bool": "boolean",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "binary varying": "varbyte",
    "varbinary": "varbyte",
}


def canonical_type(sql_type: str) -> tuple[str, tuple[int, ...]]:
    """``character varying(40)`` -> ``("varchar", (40,))``; one spelling per type for both
    dialects' catalogs and our type map."""
    match = re.fullmatch(r"\s*([a-z ]+?)\s*(?:\(([\d,\s]+)\))?\s*", sql_type.lower())
    if not match:
        return sql_type.lower().strip(), ()
    base = _ALIASES.get(match.group(1), match.group(1))
    args = tuple(int(a) for a in match.group(2).split(",")) if match.group(2) else ()
    return base, args


def is_not_null(column: dict, primary_key: list[str]) -> bool:
    return column["name"] in primary_key or column["name"] in NOT_NULL_LINEAGE


@dataclass(frozen=True)
class SchemaChange:
    kind: str  # add | widen
    column: dict


def schema_changes(
    where: str, existing: dict[str, str], columns: list[dict], dialect: str
) -> list[SchemaChange]:
    """What to do to the staging table ``existing`` (name -> type) for a batch's columns."""
    changes = []
    for column in columns:
        have = existing.get(column["name"])
        want = column[dialect]
        if have is None:
            changes.append(SchemaChange("add", column))
            continue
        have_t, want_t = canonical_type(have), canonical_type(want)
        if have_t == want_t:
            continue
        if have_t[0] == want_t[0] == "varchar" and want_t[1] > have_t[1]:
            changes.append(SchemaChange("widen", column))
            continue
        raise LoadError(
            f"{where}.{column['name']}: staging column is {have} but the batch brings {want}; "
            "only new columns and longer VARCHARs are applied automatically. Change the staging "
            "column deliberately (or drop the table and load again with FULL_REFRESH=1)"
        )
    return changes
