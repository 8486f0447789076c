"""The catalog as JSON files in the lake, in exactly the shapes of Glue's ``GetTable`` and
``GetPartitions`` answers, so the curate job reads the same structure on a laptop and in Glue."""

from __future__ import annotations

from ingestion.errors import CatalogError
from ingestion.lake import layout
from ingestion.lake.storage import Lake


class LocalCatalog:
    """Glue-API-shaped catalog stored as JSON in the lake."""

    def __init__(self, lake: Lake):
        self.lake = lake

    def get_table(self, database: str, table: str) -> dict:
        key = layout.catalog_table_key(database, table)
        if not self.lake.exists(key):
            raise CatalogError(
                f"table {database}.{table} is not in the catalog: run the crawl "
                "(make ingest runs it)"
            )
        return self.lake.get_json(key)["Table"]

    def get_partitions(self, database: str, table: str) -> list[dict]:
        key = layout.catalog_partitions_key(database, table)
        return self.lake.get_json(key)["Partitions"] if self.lake.exists(key) else []

    def list_tables(self, database: str) -> list[str]:
        keys = self.lake.list(layout.catalog_database_prefix(database), ".json")
        return [name for name in map(layout.catalog_table_name, keys) if name]

    def put_version(self, database: str, table: dict) -> None:
        self.lake.put_json(
            layout.catalog_version_key(database, table["Name"], int(table["VersionId"])),
            {"Table": table},
        )

    def put_table(self, database: str, table: dict, partitions: list[dict]) -> None:
        self.lake.put_json(
            layout.catalog_partitions_key(database, table["Name"]), {"Partitions": partitions}
        )
        self.lake.put_json(layout.catalog_table_key(database, table["Name"]), {"Table": table})
