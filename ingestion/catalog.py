"""The catalog boundary: Glue Data Catalog table definitions, and the crawl that writes them.

Locally the catalog is JSON files under the lake (``_catalog/<database>/<table>.json``) holding
exactly the shapes of Glue's ``GetTable`` / ``GetPartitions`` answers, so the curate job reads the
same structure on a laptop and in Glue. The local crawl registers what committed raw manifests
describe: each table's columns (with the MySQL contract in column Parameters) and one partition
per committed extract run. A changed source schema produces a new table version, never a mix.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from ingestion.errors import CatalogError
from ingestion.extract import committed_manifests, raw_prefix
from ingestion.faults import crash_point
from ingestion.lake import Lake

JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
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


def raw_database(source: str) -> str:
    return f"{source}_raw"


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


def glue_columns(manifest: dict) -> list[dict]:
    return [
        {
            "Name": c["name"],
            "Type": _hive_type(c["types"]),
            "Comment": c["column_type"],
            "Parameters": {"jlr.mysql." + k: str(c[k]) for k in CONTRACT_KEYS}
            | {"jlr.type." + k: v for k, v in c["types"].items()},
        }
        for c in manifest["columns"]
    ]


def contract_from_columns(name: str, columns: list[dict]) -> list[dict]:
    """Back from Glue columns to the per-column contract the curate job needs."""
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
                "types": types,
                "nullable": nullable,
                "column_type": col.get("Comment", ""),
            }
        )
    return out


def check_data_matches(lake: Lake, manifest: dict, manifest_key: str, sample: int = 100) -> None:
    """Read the first records of the run's first data file: their fields must be exactly the
    manifest's columns. A crawler that trusted the manifest alone could register a table that
    does not describe its data."""
    data = [f for f in manifest.get("files", []) if f.get("kind", "data") == "data"]
    if not data:
        return
    expected = [c["name"] for c in manifest["columns"]]
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


class LocalCatalog:
    """Glue-API-shaped catalog stored as JSON in the lake."""

    def __init__(self, lake: Lake):
        self.lake = lake

    def _key(self, database: str, table: str) -> str:
        return f"_catalog/{database}/{table}.json"

    def get_table(self, database: str, table: str) -> dict:
        key = self._key(database, table)
        if not self.lake.exists(key):
            raise CatalogError(
                f"table {database}.{table} is not in the catalog: run the crawl "
                "(make ingest runs it)"
            )
        return self.lake.get_json(key)["Table"]

    def get_partitions(self, database: str, table: str) -> list[dict]:
        key = f"_catalog/{database}/{table}.partitions.json"
        return self.lake.get_json(key)["Partitions"] if self.lake.exists(key) else []

    def list_tables(self, database: str) -> list[str]:
        keys = self.lake.list(f"_catalog/{database}/", ".json")
        return [
            k.rsplit("/", 1)[1][:-5]
            for k in keys
            if k.count("/") == 2 and not k.endswith(".partitions.json")
        ]

    def put_version(self, database: str, table: dict) -> None:
        self.lake.put_json(
            f"_catalog/{database}/_versions/{table['Name']}/{int(table['VersionId']):06d}.json",
            {"Table": table},
        )

    def put_table(self, database: str, table: dict, partitions: list[dict]) -> None:
        self.lake.put_json(
            f"_catalog/{database}/{table['Name']}.partitions.json", {"Partitions": partitions}
        )
        self.lake.put_json(self._key(database, table["Name"]), {"Table": table})


@dataclass
class CrawlResult:
    table: str
    version: int
    partitions: int
    changed: bool


def crawl_table(
    lake: Lake, catalog: LocalCatalog | GlueCatalog, source: str, table: str
) -> CrawlResult:
    """Register the table and one partition per committed run from the raw manifests."""
    manifests = committed_manifests(lake, source, table)
    if not manifests:
        raise CatalogError(f"no committed raw data for {source}.{table}: extract it first")
    latest = lake.get_json(manifests[-1])
    check_data_matches(lake, latest, manifests[-1])
    database = raw_database(source)
    columns = glue_columns(latest)
    now = datetime.now(UTC).isoformat()
    try:
        current = catalog.get_table(database, table)
    except CatalogError:
        current = None
    changed = current is None or current["StorageDescriptor"]["Columns"] != columns
    version = (int(current.get("VersionId", "0")) if current else 0) + (1 if changed else 0)
    location = lake.url(raw_prefix(source, table) + "/")
    storage = {
        "Columns": columns,
        "Location": location,
        "InputFormat": TEXT_INPUT,
        "OutputFormat": TEXT_OUTPUT,
        "Compressed": True,
        "SerdeInfo": {"SerializationLibrary": JSON_SERDE},
    }
    definition = {
        "Name": table,
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
            "jlr.primary_key": ",".join(latest["primary_key"]),
            "jlr.cursor": latest.get("cursor") or "",
        },
    }
    # Each partition keeps the columns of its own extract, as Glue partitions do: a batch is
    # always read with the schema it was written with.
    partitions = []
    for key in manifests:
        run = key.split("/run=")[1].split("/")[0]
        part_columns = columns if key == manifests[-1] else glue_columns(lake.get_json(key))
        partitions.append(
            {
                "Values": [run],
                "DatabaseName": database,
                "TableName": table,
                "StorageDescriptor": {
                    **storage,
                    "Columns": part_columns,
                    "Location": lake.url(key.rsplit("/", 1)[0] + "/"),
                },
                "Parameters": {"jlr.manifest": key},
            }
        )
    if changed and current is not None:  # keep the superseded version, like GetTableVersions
        catalog.put_version(database, current)
    crash_point("crawl.before_commit")
    catalog.put_table(database, definition, partitions)
    return CrawlResult(table, version, len(partitions), changed)


# Keys of a GetTable answer that TableInput (CreateTable / UpdateTable) accepts.
TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "TableType",
    "Parameters",
)


def crawl_outcome(crawler: dict) -> str | None:
    """From a GetCrawler answer: None while it runs, the last crawl's status when done.
    Raises CatalogError when the last crawl failed or was cancelled."""
    if crawler.get("State") != "READY":
        return None
    last = crawler.get("LastCrawl") or {}
    status = last.get("Status", "SUCCEEDED")
    if status in ("FAILED", "CANCELLED"):
        where = f"{last.get('LogGroup', '/aws-glue/crawlers')}/{last.get('LogStream', '')}"
        raise CatalogError(
            f"crawler {crawler.get('Name')} {status.lower()}: "
            f"{last.get('ErrorMessage', 'no message')} (log: {where})"
        )
    return status


class GlueCatalog:
    """The AWS Glue Data Catalog through boto3, with the same table shapes as LocalCatalog.

    ``crawl_table`` registers tables and partitions from the committed raw manifests through the
    Glue API (exact types, never an inference that drifts); ``run_crawler`` runs a deployed Glue
    crawler and waits for it, for raw data written by other tools.
    """

    def __init__(self, client=None):
        import boto3

        self.glue = client or boto3.client("glue")

    def _error(self, action: str, exc: Exception) -> CatalogError:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        return CatalogError(f"Glue catalog: cannot {action}: {code}")

    def ensure_database(self, database: str) -> None:
        with contextlib.suppress(self.glue.exceptions.AlreadyExistsException):
            self.glue.create_database(DatabaseInput={"Name": database})

    def get_table(self, database: str, table: str) -> dict:
        try:
            return self.glue.get_table(DatabaseName=database, Name=table)["Table"]
        except self.glue.exceptions.EntityNotFoundException:
            raise CatalogError(
                f"table {database}.{table} is not in the Glue catalog: run the crawl"
            ) from None

    def get_partitions(self, database: str, table: str) -> list[dict]:
        pages = self.glue.get_paginator("get_partitions").paginate(
            DatabaseName=database, TableName=table
        )
        partitions = [p for page in pages for p in page["Partitions"]]
        return sorted(partitions, key=lambda p: p["Values"])

    def list_tables(self, database: str) -> list[str]:
        pages = self.glue.get_paginator("get_tables").paginate(DatabaseName=database)
        return sorted(t["Name"] for page in pages for t in page["TableList"])

    def get_versions(self, database: str, table: str) -> list[dict]:
        versions = self.glue.get_table_versions(DatabaseName=database, TableName=table)
        return sorted(
            (v["Table"] for v in versions["TableVersions"]),
            key=lambda t: int(t.get("VersionId", 0)),
        )

    def put_version(self, database: str, table: dict) -> None:
        """Glue keeps every superseded version itself (GetTableVersions)."""

    def put_table(self, database: str, table: dict, partitions: list[dict]) -> None:
        self.ensure_database(database)
        table_input = {k: table[k] for k in TABLE_INPUT_KEYS if k in table}
        try:
            current = self.get_table(database, table["Name"])
        except CatalogError:
            self.glue.create_table(DatabaseName=database, TableInput=table_input)
        else:  # UpdateTable always makes a new version: only when something changed

            def shape(t: dict) -> tuple:
                return (
                    t["StorageDescriptor"]["Columns"],
                    t.get("PartitionKeys"),
                    t.get("Parameters"),
                )

            if shape(current) != shape(table_input):
                self.glue.update_table(DatabaseName=database, TableInput=table_input)
        known = {tuple(p["Values"]) for p in self.get_partitions(database, table["Name"])}
        new = [
            {
                "Values": p["Values"],
                "StorageDescriptor": p["StorageDescriptor"],
                "Parameters": p.get("Parameters", {}),
            }
            for p in partitions
            if tuple(p["Values"]) not in known
        ]
        for i in range(0, len(new), 100):  # BatchCreatePartition takes 100 at a time
            answer = self.glue.batch_create_partition(
                DatabaseName=database, TableName=table["Name"], PartitionInputList=new[i : i + 100]
            )
            if answer.get("Errors"):
                error = answer["Errors"][0]["ErrorDetail"]
                raise CatalogError(
                    f"Glue catalog: partitions of {database}.{table['Name']} "
                    f"not registered: {error.get('ErrorCode')}: "
                    f"{error.get('ErrorMessage')}"
                )

    def run_crawler(
        self,
        name: str,
        timeout_seconds: float = 1800,
        poll_seconds: float = 15,
    ) -> str:
        """Start the crawler (or join its running crawl) and wait until it is done."""
        try:
            self.glue.start_crawler(Name=name)
        except self.glue.exceptions.CrawlerRunningException:
            pass  # someone else started it: wait for that crawl
        except self.glue.exceptions.EntityNotFoundException:
            raise CatalogError(f"crawler {name} does not exist (deploy the stack first)") from None
        deadline = time.monotonic() + timeout_seconds
        while True:
            crawler = self.glue.get_crawler(Name=name)["Crawler"]
            outcome = crawl_outcome(crawler)
            if outcome is not None:
                return outcome
            if time.monotonic() >= deadline:
                raise CatalogError(
                    f"crawler {name} still {crawler.get('State', '?').lower()} after "
                    f"{timeout_seconds:g}s; it goes on in AWS: see its CloudWatch log group "
                    "/aws-glue/crawlers"
                )
            time.sleep(poll_seconds)
