"""Every key and prefix of the lake, and nothing else: the one place that knows its layout.

```
raw/<source>/<table>/run=<run_id>/part-sNN-NNNNNN.jsonl.gz    data chunks of an extract run
                                  deletes-000000.jsonl.gz     tombstones (keys that disappeared)
                                  _chunks/sNN-NNNNNN.json      a committed chunk (resume point)
                                  _chunks/sNN-done.json        a finished stream
                                  _changes.json                a cdc run's keys from the binlog
                                  _manifest.json               the run's commit point, written last
curated/<source>/<table>/batch=<batch_id>/*.parquet + _manifest.json (+ _redshift_copy.json)
rejects/<source>/<table>/batch=<batch_id>/*.json              rejected records with their reason
_state/<source>/<table>/watermark.json, inflight.json, keys/<run_id>.jsonl.gz
_state/_locks/<source>.json                                   the source's run lock
_catalog/<source>_raw/<table>.json, <table>.partitions.json, _versions/<table>/NNNNNN.json
```

A curated batch's id is the raw run it came from, so curating a raw run again writes the same
batch (idempotent). ``<table>`` is the table's warehouse name (``ingestion.contract.names``:
lower case, ``[a-z0-9_]`` only), whatever its MySQL name holds; every function here takes the
MySQL name (or the warehouse name: the rule leaves it unchanged) and spells it so. Source names
are identifiers too, so no two of these keys can collide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingestion.contract.names import warehouse_name

if TYPE_CHECKING:
    from ingestion.lake.storage import Lake

MANIFEST = "_manifest.json"


def manifest_key(prefix: str) -> str:
    """The commit point of a run or batch written under ``prefix``."""
    return f"{prefix}/{MANIFEST}"


def parent_prefix(key: str) -> str:
    """The run or batch prefix a manifest (or any file directly in it) belongs to."""
    return key.rsplit("/", 1)[0]


# ------------------------------------------------------------------ raw zone
def raw_table_prefix(source: str, table: str) -> str:
    return f"raw/{source}/{warehouse_name(table)}"


def raw_run_prefix(source: str, table: str, run_id: str) -> str:
    return f"{raw_table_prefix(source, table)}/run={run_id}"


def run_id_of(raw_key: str) -> str:
    """The run id in a key under a raw run, e.g. its manifest's."""
    return raw_key.split("/run=", 1)[1].split("/", 1)[0]


def raw_data_file(run_prefix: str, stream: int, seq: int) -> str:
    """Chunk ``seq`` of stream ``stream``: its files sort in the order the rows were read."""
    return f"{run_prefix}/part-s{stream:02d}-{seq:06d}.jsonl.gz"


def raw_deletes_file(run_prefix: str) -> str:
    """The run's tombstones: the keys that disappeared since the previous run."""
    return f"{run_prefix}/deletes-000000.jsonl.gz"


def cdc_changes_file(run_prefix: str) -> str:
    """A cdc run's changes read from the binlog (keys upserted and deleted), kept for resumes."""
    return f"{run_prefix}/_changes.json"


def chunk_markers_prefix(run_prefix: str) -> str:
    """Where a run in progress records its committed chunks (its resume points)."""
    return f"{run_prefix}/_chunks/"


def chunk_marker(run_prefix: str, stream: int, seq: int | None) -> str:
    """A committed chunk's marker, or with no ``seq`` the marker of a finished stream."""
    name = "done" if seq is None else f"{seq:06d}"
    return f"{chunk_markers_prefix(run_prefix)}s{stream:02d}-{name}.json"


def raw_manifests(lake: Lake, source: str, table: str) -> list[str]:
    """Committed raw runs of a table, oldest first (run ids sort by time)."""
    return lake.list(raw_table_prefix(source, table) + "/", MANIFEST)


def zone_tables(lake: Lake, zone: str, source: str) -> list[str]:
    """The tables with at least one committed run (``raw``) or batch (``curated``) of the
    source, by their MySQL names (each table's newest manifest names it), sorted: what a job
    run by hand without a table list works on."""
    prefix = f"{zone}/{source}/"
    newest = {}
    for key in lake.list(prefix, MANIFEST):  # sorted: a table's newest manifest comes last
        newest[key[len(prefix) :].split("/", 1)[0]] = key
    return sorted(lake.get_json(key)["table"] for key in newest.values())


# ------------------------------------------------------------------ curated zone and rejects
def curated_table_prefix(source: str, table: str) -> str:
    return f"curated/{source}/{warehouse_name(table)}"


def curated_batch_prefix(source: str, table: str, batch_id: str) -> str:
    return f"{curated_table_prefix(source, table)}/batch={batch_id}"


def curated_manifests(lake: Lake, source: str, table: str) -> list[str]:
    """Committed curated batches of a table, oldest first."""
    return lake.list(curated_table_prefix(source, table) + "/", MANIFEST)


def redshift_copy_manifest(curated_manifest_key: str) -> str:
    """The manifest Redshift's ``COPY ... MANIFEST`` reads, beside the batch's own."""
    return f"{parent_prefix(curated_manifest_key)}/_redshift_copy.json"


def table_rejects_prefix(source: str, table: str) -> str:
    """Where every batch of the table keeps its rejected records."""
    return f"rejects/{source}/{warehouse_name(table)}/"


def rejects_prefix(source: str, table: str, batch_id: str) -> str:
    return f"{table_rejects_prefix(source, table)}batch={batch_id}"


# ------------------------------------------------------------------ state
def table_state_prefix(source: str, table: str) -> str:
    return f"_state/{source}/{warehouse_name(table)}"


def table_state_file(source: str, table: str, name: str) -> str:
    """A table's state document: ``watermark`` (the last committed run), ``inflight`` (the run
    under way)."""
    return f"{table_state_prefix(source, table)}/{name}.json"


def key_list_file(source: str, table: str, run_id: str) -> str:
    """A run's list of the table's primary keys (what the next run's delete detection reads)."""
    return f"{table_state_prefix(source, table)}/keys/{run_id}.jsonl.gz"


# ------------------------------------------------------------------ catalog (local JSON)
def catalog_database_prefix(database: str) -> str:
    return f"_catalog/{database}/"


def catalog_table_key(database: str, table: str) -> str:
    return f"{catalog_database_prefix(database)}{warehouse_name(table)}.json"


def catalog_partitions_key(database: str, table: str) -> str:
    return f"{catalog_database_prefix(database)}{warehouse_name(table)}.partitions.json"


def catalog_version_key(database: str, table: str, version: int) -> str:
    name = warehouse_name(table)
    return f"{catalog_database_prefix(database)}_versions/{name}/{version:06d}.json"


def catalog_table_name(key: str) -> str | None:
    """The table a key under a catalog database describes, or None for other files."""
    name = key.rsplit("/", 1)[1]
    if key.count("/") != 2 or not name.endswith(".json") or name.endswith(".partitions.json"):
        return None
    return name[: -len(".json")]


# ------------------------------------------------------------------ per source
def raw_database(source: str) -> str:
    """The catalog database of a source's raw tables (Glue and local alike)."""
    return f"{source}_raw"


def run_lock_key(source: str) -> str:
    """The source's run lock (one run of a source at a time): outside its own prefixes, so a
    reset of the source, which holds the lock, does not delete it."""
    return f"_state/_locks/{source}.json"


def source_prefixes(source: str) -> list[str]:
    """Everything the pipeline keeps for a source (what a reset of the source deletes)."""
    return [
        f"raw/{source}",
        f"curated/{source}",
        f"rejects/{source}",
        f"_state/{source}",
        catalog_database_prefix(raw_database(source)).rstrip("/"),
    ]
