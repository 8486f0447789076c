"""Spark's own floor for the curate stage (a ``make bench`` reference, run as its own process
like the curate job): read a raw run's gzip JSON Lines with the explicit schema, cast each
column to its curated type, write zstd Parquet partitioned by month of a date column. Nothing
else: no checks, no dedupe, no lineage, no counts.

    python -m bench.spark_floor LAKE_URI RAW_MANIFEST_KEY PARTITION_COLUMN OUT_URI
"""

from __future__ import annotations

import sys
import time

from pyspark.sql import functions as F

from glue_jobs.curate_batches import build_spark
from glue_jobs.curation import raw_schema, with_warehouse_names
from ingestion.contract.names import warehouse_name
from ingestion.lake.manifests import read_raw
from ingestion.lake.storage import open_lake


def main(argv: list[str]) -> int:
    lake_uri, raw_key, partition_column, out = argv
    lake = open_lake(lake_uri)
    manifest = read_raw(lake, raw_key)
    contract = [
        {"name": warehouse_name(c["name"]), "source_name": c["name"], "types": c["types"]}
        for c in manifest.columns
    ]
    spark = build_spark("bench-spark-floor")
    started = time.perf_counter()
    paths = [lake.url(f["key"]) for f in manifest.files_of("data")]
    df = with_warehouse_names(spark.read.schema(raw_schema(contract)).json(paths), contract)
    typed = df.select(*[F.col(c["name"]).cast(c["types"]["spark"]) for c in contract])
    typed = typed.withColumn("month", F.date_format(partition_column, "yyyy-MM"))
    typed.write.mode("overwrite").partitionBy("month").parquet(out)
    print(f"{time.perf_counter() - started:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
