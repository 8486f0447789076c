"""The Glue Data Catalog path against moto: tables, partitions and versions registered through the
Glue API in the same shapes as the local catalog, and a deployed crawler run and waited for."""

import uuid

import boto3
import pytest

from ingestion.lake import manifests
from ingestion.lake.manifests import RawManifest
from ingestion.lake.storage import open_lake
from tests.raw_runs import manifest_columns


def write_manifest(lake, run_id, columns):
    cols = manifest_columns(columns)
    manifest = RawManifest(
        source="src",
        database="src",
        table="t",
        run_id=run_id,
        mode="full",
        window={"low": None, "high": None},
        extracted_at=run_id,
        committed_at=run_id,
        primary_key=["id"],
        cursor="updated_at",
        soft_delete_column=None,
        columns=cols,
        files=[],
        row_count=0,
    )
    manifests.write(lake, f"raw/src/t/run={run_id}/_manifest.json", manifest)


ID = ("id", "int(11)", ("int", "int", "integer", "integer"))
AMOUNT = ("amount", "decimal(12,2)", ("text", "decimal(12,2)", "numeric(12,2)", "decimal(12,2)"))
NOTE = ("note", "varchar(20)", ("text", "string", "varchar(20)", "varchar(80)"))


def test_glue_catalog_registers_tables_partitions_and_versions(aws, tmp_path):
    from ingestion.catalog.crawl import contract_from_columns, crawl_table
    from ingestion.catalog.glue import GlueCatalog
    from ingestion.catalog.local import LocalCatalog

    lake = open_lake(f"file://{tmp_path}/lake")  # the raw zone; the catalog is Glue's
    write_manifest(lake, "20260101T000000000000Z", [ID, AMOUNT])
    glue, local = GlueCatalog(), LocalCatalog(lake)
    first = crawl_table(lake, glue, "src", "t")
    crawl_table(lake, local, "src", "t")
    assert (first.version, first.partitions, first.changed) == (1, 1, True)
    table = glue.get_table("src_raw", "t")
    assert (
        table["StorageDescriptor"]["Columns"]
        == local.get_table("src_raw", "t")["StorageDescriptor"]["Columns"]
    )
    assert [k["Name"] for k in table["PartitionKeys"]] == ["run"]
    assert table["Parameters"]["jlr.primary_key"] == '["id"]'
    assert glue.list_tables("src_raw") == ["t"]
    assert crawl_table(lake, glue, "src", "t").changed is False  # same schema: no new version

    write_manifest(lake, "20260102T000000000000Z", [ID, AMOUNT, NOTE])  # a new source column
    second = crawl_table(lake, glue, "src", "t")
    assert (second.changed, second.partitions) == (True, 2)
    assert len(glue.get_versions("src_raw", "t")) == 2
    old, new = glue.get_partitions("src_raw", "t")
    assert [c["name"] for c in contract_from_columns("t", old["StorageDescriptor"]["Columns"])] == [
        "id",
        "amount",
    ]  # each run keeps the schema it was written with
    assert len(new["StorageDescriptor"]["Columns"]) == 3


def test_glue_crawler_start_join_and_timeout(aws):
    from ingestion.catalog.glue import GlueCatalog
    from ingestion.errors import CatalogError

    catalog = GlueCatalog()
    with pytest.raises(CatalogError, match="crawler nope does not exist"):
        catalog.run_crawler("nope", timeout_seconds=1, poll_seconds=0.01)
    name = f"raw-{uuid.uuid4().hex[:6]}"
    boto3.client("glue").create_crawler(
        Name=name,
        Role="arn:aws:iam::123456789012:role/crawler",
        DatabaseName="src_raw",
        Targets={"S3Targets": [{"Path": "s3://bucket/lake/raw/"}]},
    )
    with pytest.raises(CatalogError, match=f"crawler {name} still running after 0.3s"):
        catalog.run_crawler(name, timeout_seconds=0.3, poll_seconds=0.05)
    # started again while its crawl runs: it joins that crawl instead of failing
    with pytest.raises(CatalogError, match="still running after 0.2s"):
        catalog.run_crawler(name, timeout_seconds=0.2, poll_seconds=0.05)


def test_crawl_outcomes_read_from_glue_answers():
    from ingestion.catalog.glue import crawl_outcome
    from ingestion.errors import CatalogError

    assert crawl_outcome({"Name": "c", "State": "RUNNING"}) is None
    assert crawl_outcome({"Name": "c", "State": "STOPPING"}) is None
    assert (
        crawl_outcome({"Name": "c", "State": "READY", "LastCrawl": {"Status": "SUCCEEDED"}})
        == "SUCCEEDED"
    )
    failed = {
        "Name": "c",
        "State": "READY",
        "LastCrawl": {
            "Status": "FAILED",
            "ErrorMessage": "Insufficient Lake Formation permission(s)",
            "LogGroup": "/aws-glue/crawlers",
            "LogStream": "c",
        },
    }
    with pytest.raises(
        CatalogError,
        match=r"crawler c failed: Insufficient Lake Formation "
        r"permission\(s\) \(log: /aws-glue/crawlers/c\)",
    ):
        crawl_outcome(failed)
