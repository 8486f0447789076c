"""A whole curated batch on a local lake: written in one pass, counted from independent places,
and stopped before its commit when the counts do not agree (a dropped row, a doubled row, a
lost file), as well as rewritten with the dedupe when a key arrives twice."""

import gzip
import json
import shutil

import pyarrow.parquet as pq
import pytest

from glue_jobs import curate_batches
from glue_jobs.curate_batches import CurateOptions, curate_batch
from ingestion.catalog.crawl import contract_from_columns, glue_columns
from ingestion.errors import CurateError
from ingestion.lake import layout, manifests
from ingestion.lake.manifests import RawManifest
from ingestion.lake.storage import open_lake, parquet_rows
from tests.raw_runs import manifest_columns

RUN = "20260102T030405000000Z"
COLUMNS = [  # name, column_type, (raw, spark, postgres, redshift)
    ("id", "int(11)", ("int", "bigint", "bigint", "bigint")),
    ("day", "date", ("date", "date", "date", "date")),
    ("amount", "decimal(12,2)", ("text", "decimal(12,2)", "numeric(12,2)", "decimal(12,2)")),
    ("updated_at", "datetime", ("datetime", "timestamp_ntz", "timestamp", "timestamp")),
]


def raw_run(lake, rows: list[dict], deletes: list[dict] = ()) -> str:
    """A committed raw run of table ``t`` holding rows (and tombstones), as the extract writes."""
    prefix = layout.raw_run_prefix("src", "t", RUN)
    files = []
    for kind, records, key in (
        ("data", rows, layout.raw_data_file(prefix, 0, 0)),
        ("delete", deletes, layout.raw_deletes_file(prefix)),
    ):
        if records:
            data = gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())
            lake.put_bytes(key, data)
            files.append({"key": key, "kind": kind, "rows": len(records), "bytes": len(data)})
    columns = manifest_columns(COLUMNS)
    manifest = RawManifest(
        source="src", database="src", table="t", run_id=RUN, mode="incremental",
        window={"low": None, "high": None}, extracted_at="2026-01-02T03:04:05+00:00",
        committed_at="2026-01-02T03:04:06+00:00", primary_key=["id"], cursor="updated_at",
        soft_delete_column=None, columns=columns, files=files, row_count=len(rows),
        delete_count=len(deletes),
    )  # fmt: skip
    key = layout.manifest_key(prefix)
    manifests.write(lake, key, manifest)
    return key


def row(i: int, day: str = "2026-01-05", updated: str = "2026-01-05 10:00:00") -> dict:
    return {"id": i, "day": day, "amount": f"{i}.50", "updated_at": updated}


def curate(spark, lake, raw_key):
    manifest = manifests.read_raw(lake, raw_key)
    contract = contract_from_columns("t", glue_columns(manifest))
    options = CurateOptions(partition_column="day")
    return curate_batch(spark, lake, "src", "t", raw_key, contract, options)


@pytest.fixture
def lake(tmp_path):
    return open_lake(f"file://{tmp_path}/lake")


ROWS = [row(1, "2026-01-05"), row(2, "2026-02-07"), row(3, "2026-02-08"), row(4, "not a date")]


def test_a_batch_is_counted_from_its_written_files_and_reconciles(spark, lake):
    result = curate(spark, lake, raw_run(lake, ROWS, deletes=[{"id": 9}]))
    assert (result.extracted, result.curated, result.rejected) == (5, 4, 1)
    assert (result.duplicates_removed, result.deletes) == (0, 1)
    committed = manifests.read_curated(lake, result.manifest_key)
    # one file per partition value here (a small batch is one task): 2026-01, 2026-02, none
    assert len(committed.files) == 3
    assert all(f["rows"] == parquet_rows(lake, f["key"]) for f in committed.files)
    assert sum(f["rows"] for f in committed.files) == 4


@pytest.mark.parametrize("check_rows", [1_000_000, 0], ids=["keys-read-by-pyarrow", "by-spark"])
def test_a_key_arriving_twice_is_deduplicated_and_counted(spark, lake, monkeypatch, check_rows):
    monkeypatch.setattr(curate_batches, "DRIVER_KEY_CHECK_ROWS", check_rows)
    rows = [*ROWS[:3], row(2, "2026-03-01", "2026-01-06 09:00:00"), row(3)]
    result = curate(spark, lake, raw_run(lake, rows))
    assert (result.extracted, result.curated, result.duplicates_removed) == (5, 3, 2)
    committed = manifests.read_curated(lake, result.manifest_key)
    days = {}
    for f in committed.files:
        for r in pq.read_table(lake.path(f["key"])).to_pylist():
            days[r["id"]] = str(r["day"])
    assert days == {1: "2026-01-05", 2: "2026-03-01", 3: "2026-02-08"}  # the latest cursor wins


def _broken_write(monkeypatch, damage):
    """The curate job's write, followed by damage to what it wrote (or to what it writes)."""
    write = curate_batches._write_curated

    def damaged(spark, lake, curated, target, options, records):
        curated = damage(curated, lake, target, before=True) or curated
        write(spark, lake, curated, target, options, records)
        damage(curated, lake, target, before=False)

    monkeypatch.setattr(curate_batches, "_write_curated", damaged)


def _drop_a_row(curated, lake, target, before):
    if before:
        return curated.where("id != 2")
    return None


def _double_a_file(curated, lake, target, before):
    if not before:
        first = curate_batches._written_files(lake, target)[0]["key"]
        shutil.copy(lake.path(first), lake.path(first.replace("part-", "part-copy-")))
    return None


def _lose_a_file(curated, lake, target, before):
    if not before:
        lake.delete(curate_batches._written_files(lake, target)[0]["key"])
    return None


@pytest.mark.parametrize(
    "damage", [_drop_a_row, _double_a_file, _lose_a_file], ids=["dropped", "doubled", "lost"]
)
def test_a_batch_whose_counts_do_not_reconcile_is_never_committed(spark, lake, monkeypatch, damage):
    _broken_write(monkeypatch, damage)
    raw_key = raw_run(lake, [row(i, f"2026-0{1 + i % 3}-05") for i in range(1, 40)])
    with pytest.raises(CurateError, match="counts do not reconcile"):
        curate(spark, lake, raw_key)
    target = layout.curated_batch_prefix("src", "t", RUN)
    assert not lake.exists(layout.manifest_key(target))


def test_a_batch_without_records_is_one_file_holding_the_schema(spark, lake):
    """A cdc run with no change: the load (and Redshift's COPY) still gets a file to read."""
    result = curate(spark, lake, raw_run(lake, []))
    assert (result.extracted, result.curated, result.files) == (0, 0, 1)
    (written,) = manifests.read_curated(lake, result.manifest_key).files
    assert parquet_rows(lake, written["key"]) == 0
    assert "day_month=" not in written["key"]  # unpartitioned
    assert pq.read_schema(lake.path(written["key"])).names[:4] == [
        "id",
        "day",
        "amount",
        "updated_at",
    ]
