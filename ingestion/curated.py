"""The curated zone's layout and manifests, shared by the curate job and the loaders.

``curated/<source>/<table>/batch=<batch_id>/part-*.parquet`` plus ``_manifest.json`` (written last)
and ``rejects/<source>/<table>/batch=<batch_id>/`` (JSON Lines, one rejected record and its reason
per line). A batch's id is the raw extract run it came from, so curating a raw run again writes the
same batch: idempotent.
"""

from __future__ import annotations

from ingestion.lake import Lake

CURATED_FORMAT = "jlr.curated.v1"
LINEAGE_COLUMNS = [
    # name, spark, postgres, redshift
    ("_batch_id", "string", "varchar(32)", "varchar(32)"),
    ("_extracted_at", "timestamp", "timestamptz", "timestamptz"),
    ("_source_file", "string", "varchar(1024)", "varchar(1024)"),
    ("_is_deleted", "boolean", "boolean", "boolean"),
]


def batch_prefix(source: str, table: str, batch_id: str) -> str:
    return f"curated/{source}/{table}/batch={batch_id}"


def table_rejects_prefix(source: str, table: str) -> str:
    """Where every batch of the table keeps its rejected records."""
    return f"rejects/{source}/{table}/"


def rejects_prefix(source: str, table: str, batch_id: str) -> str:
    return f"{table_rejects_prefix(source, table)}batch={batch_id}"


def curated_manifests(lake: Lake, source: str, table: str) -> list[str]:
    """Committed curated batches of a table, oldest first."""
    return lake.list(f"curated/{source}/{table}/", "_manifest.json")


def curated_raw_manifests(lake: Lake, source: str, table: str) -> set[str]:
    """The curate job's bookmark: raw manifests already turned into a committed batch."""
    done: set[str] = set()
    for key in curated_manifests(lake, source, table):
        done.update(lake.get_json(key)["raw_manifests"])
    return done
