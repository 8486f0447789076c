"""The AWS Glue Data Catalog through boto3, with the same table shapes as the local catalog."""

from __future__ import annotations

import contextlib
import time

from ingestion.aws import client as aws_client
from ingestion.errors import CatalogError

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
        self.glue = client or aws_client("glue")

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
        pages = self.glue.get_paginator("get_table_versions").paginate(
            DatabaseName=database, TableName=table
        )
        return sorted(
            (v["Table"] for page in pages for v in page["TableVersions"]),
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
