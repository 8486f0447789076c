"""The crawl: Glue table definitions from committed raw manifests, into either catalog.

The local crawl (and ``GlueCatalog`` on AWS, which writes the same shapes through the Glue API)
registers what committed raw manifests describe: each table's columns (with the MySQL contract
in column Parameters) and one partition per committed extract run. A changed source schema
produces a new table version, never a mix.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from ingestion.contract.names import warehouse_name
from ingestion.errors import CatalogError
from ingestion.faults import crash_point
from ingestion.lake import layout
from ingestion.lake.manifests import RawManifest, read_raw
from ingestion.lake.storage import Lake

JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
SOURCE_NAME = "jlr.source.name"  # a column's MySQL name, where its warehouse name differs
CONTRACT_KEYS = (
    "data_type",
    "column_type",
    "nullable",
    "char_max_length",
    "numeric_precision",
    "numeric_scale",
    "datetime_precision",
    "charset",
    "is_json",
)


class Catalog(Protocol):
    """What the crawl and the curate job need of a catalog (``LocalCatalog``, ``GlueCatalog``)."""

    def get_table(self, database: str, table: str) -> dict: ...
    def get_partitions(self, database: str, table: str) -> list[dict]: ...
    def put_version(self, database: str, table: dict) -> None: ...
    def put_table(self, database: str, table: dict, partitions: list[dict]) -> None: ...


def _hive_type(types: dict[str, str]) -> str:
    """The type a Glue crawler would register for the raw JSON value."""
    raw, spark = types["raw"], types["spark"]
    if raw in ("int", "bits"):
        return "boolean" if spark == "boolean" else spark
    if raw == "float":
        return "double"
    if raw == "bool":
        return "tinyint"
    return "string"


def glue_columns(manifest: RawManifest) -> list[dict]:
    """The run's columns under their warehouse names (``contract.names``), each with its MySQL
    contract; a column whose MySQL name differs keeps it in ``jlr.source.name`` (the raw JSON's
    key)."""
    return [
        {
            "Name": warehouse_name(c["name"]),
            "Type": _hive_type(c["types"]),
            "Comment": c["column_type"],
            "Parameters": {"jlr.mysql." + k: str(c[k]) for k in CONTRACT_KEYS}
            | {"jlr.type." + k: v for k, v in c["types"].items()}
            | ({} if warehouse_name(c["name"]) == c["name"] else {SOURCE_NAME: c["name"]}),
        }
        for c in manifest.columns
    ]


def serde_mappings(columns: list[dict]) -> dict[str, str]:
    """The JSON SerDe's column -> JSON key mappings, for columns whose raw key (the MySQL name)
    is not their catalog name: Athena and Glue's own readers then find every value."""
    return {
        f"mapping.{c['Name']}": c["Parameters"][SOURCE_NAME]
        for c in columns
        if SOURCE_NAME in c.get("Parameters", {})
    }


def contract_from_columns(name: str, columns: list[dict]) -> list[dict]:
    """Back from Glue columns to the per-column contract the curate job needs: ``name`` the
    warehouse name, ``source_name`` the raw JSON's key."""
    out = []
    for col in columns:
        params = col.get("Parameters", {})
        types = {
            k.removeprefix("jlr.type."): v for k, v in params.items() if k.startswith("jlr.type.")
        }
        if not types:
            raise CatalogError(
                f"table {name}: column {col['Name']} carries no contract; run the crawl again"
            )
        nullable = params.get("jlr.mysql.nullable", "True") == "True"
        out.append(
            {
                "name": col["Name"],
                "source_name": params.get(SOURCE_NAME, col["Name"]),
                "types": types,
                "nullable": nullable,
                "column_type": col.get("Comment", ""),
            }
        )
    return out


def check_data_matches(
    lake: Lake, manifest: RawManifest, manifest_key: str, sample: int = 100
) -> None:
    """Read the first records of the run's first data file: their fields must be exactly the
    manifest's columns. A crawler that trusted the manifest alone could register a table that
    does not describe its data."""
    data = manifest.files_of("data")
    if not data:
        return
    expected = [c["name"] for c in manifest.columns]
    with gzip.open(lake.open(data[0]["key"]), "rt", encoding="utf-8") as handle:
        for number, line in zip(range(1, sample + 1), handle, strict=False):
            try:
                fields = list(json.loads(line))
            except (json.JSONDecodeError, TypeError):
                raise CatalogError(
                    f"{data[0]['key']} line {number} is not a JSON object; "
                    f"the run {manifest_key} cannot be registered"
                ) from None
            if fields != expected:
                raise CatalogError(
                    f"{data[0]['key']} line {number} has fields {fields} but its manifest "
                    f"{manifest_key} declares {expected}; the run cannot be registered"
                )


@dataclass
class CrawlResult:
    table: str
    version: int
    partitions: int
    changed: bool


def crawl_table(lake: Lake, catalog: Catalog, source: str, table: str) -> CrawlResult:
    """Register the table (MySQL name ``table``) under its warehouse name, and one partition per
    committed run, from the raw manifests."""
    committed = layout.raw_manifests(lake, source, table)
    if not committed:
        raise CatalogError(f"no committed raw data for {source}.{table}: extract it first")
    latest = read_raw(lake, committed[-1])
    check_data_matches(lake, latest, committed[-1])
    database = layout.raw_database(source)
    columns = glue_columns(latest)
    now = datetime.now(UTC).isoformat()
    name = warehouse_name(table)
    try:
        current = catalog.get_table(database, name)
    except CatalogError:
        current = None
    # the columns of the runs registered before: manifests never change, so those are not read
    # again (the crawl costs the same after a thousand runs as after one)
    known = {
        p["Parameters"]["jlr.manifest"]: p["StorageDescriptor"]["Columns"]
        for p in (catalog.get_partitions(database, name) if current else [])
    }
    changed = current is None or current["StorageDescriptor"]["Columns"] != columns
    version = (int(current.get("VersionId", "0")) if current else 0) + (1 if changed else 0)
    location = lake.url(layout.raw_table_prefix(source, table) + "/")
    storage = {
        "Columns": columns,
        "Location": location,
        "InputFormat": TEXT_INPUT,
        "OutputFormat": TEXT_OUTPUT,
        "Compressed": True,
        "SerdeInfo": {"SerializationLibrary": JSON_SERDE}
        | ({"Parameters": mappings} if (mappings := serde_mappings(columns)) else {}),
    }
    definition = {
        "Name": name,
        "DatabaseName": database,
        "TableType": "EXTERNAL_TABLE",
        "VersionId": str(version),
        "CreateTime": current["CreateTime"] if current else now,
        "UpdateTime": now,
        "StorageDescriptor": storage,
        "PartitionKeys": [{"Name": "run", "Type": "string"}],
        "Parameters": {
            "classification": "json",
            "compressionType": "gzip",
            "jlr.source": source,
            "jlr.source_table": table,
            # JSON: a column name may hold any character, a comma included
            "jlr.primary_key": json.dumps(latest.primary_key),
            "jlr.cursor": latest.cursor or "",
        },
    }
    # Each partition keeps the columns of its own extract, as Glue partitions do: a batch is
    # always read with the schema it was written with.
    partitions = []
    for key in committed:
        run = layout.run_id_of(key)
        if key == committed[-1]:
            part_columns = columns
        else:
            part_columns = known.get(key) or glue_columns(read_raw(lake, key))
        partitions.append(
            {
                "Values": [run],
                "DatabaseName": database,
                "TableName": name,
                "StorageDescriptor": {
                    **storage,
                    "Columns": part_columns,
                    "Location": lake.url(layout.parent_prefix(key) + "/"),
                },
                "Parameters": {"jlr.manifest": key},
            }
        )
    if changed and current is not None:  # keep the superseded version, like GetTableVersions
        catalog.put_version(database, current)
    crash_point("crawl.before_commit")
    catalog.put_table(database, definition, partitions)
    return CrawlResult(table, version, len(partitions), changed)
