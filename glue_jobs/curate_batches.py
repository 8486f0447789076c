"""The curate job's I/O: pending raw runs in, curated Parquet batches and rejects out.

A batch is committed by its manifest, written last, after the written files were read back and
the counts reconciled: ``extracted = curated + rejected + duplicates_removed``. Re-running after a
kill rewrites the same batch (its id is the raw run id); a committed batch is never redone.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from glue_jobs.curation import (
    CORRUPT,
    apply_contract,
    curated_types,
    datetimes_to_utc,
    deduplicate,
    mark_soft_deletes,
    normalise,
    partition_name,
    raw_schema,
    reject_records,
    split_rejects,
    with_lineage,
    with_partition,
    with_warehouse_names,
    zero_date_counts,
)
from ingestion.catalog.crawl import Catalog, contract_from_columns
from ingestion.config.settings import Settings
from ingestion.contract.names import warehouse_name
from ingestion.contract.rules import TextRules
from ingestion.errors import CurateError
from ingestion.events import BatchCurated
from ingestion.faults import crash_point
from ingestion.lake import layout, manifests
from ingestion.lake.manifests import LINEAGE_COLUMNS, Counts, CuratedManifest, RawManifest
from ingestion.lake.storage import Lake


def build_spark(app_name: str, settings: Settings | None = None) -> SparkSession:
    """Glue's session inside AWS Glue; a local-mode session elsewhere. Same settings both ways."""
    settings = settings or Settings.load()
    try:  # pragma: no cover - only inside AWS Glue
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext

        spark = GlueContext(SparkContext.getOrCreate()).spark_session
    except ImportError:
        spark = (
            SparkSession.builder.master(settings.spark_master)
            .appName(app_name)
            .config("spark.driver.memory", settings.spark_driver_memory)
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.hadoop.fs.file.impl.disable.cache", "true")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("WARN")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    spark.conf.set("spark.sql.parquet.compression.codec", "zstd")
    # MySQL, PostgreSQL and Redshift all use the proleptic Gregorian calendar: write dates before
    # 1582 (MySQL's DATE starts at 1000-01-01) as they are, without Spark 2's Julian rebase.
    for mode in (
        "datetimeRebaseModeInWrite",
        "datetimeRebaseModeInRead",
        "int96RebaseModeInWrite",
        "int96RebaseModeInRead",
    ):
        spark.conf.set(f"spark.sql.parquet.{mode}", "CORRECTED")
    return spark


@dataclass(frozen=True)
class CurateOptions:
    """What the source configuration asks of the curate job for one table."""

    text_rules: TextRules = TextRules()
    pii_salt: str = field(default="", repr=False)
    source_time_zone: str | None = None
    partition_column: str | None = None
    partition_granularity: str = "month"
    rows_per_file: int = 2_000_000  # JLR_CURATED_ROWS_PER_FILE
    zero_dates: str = "null"  # or reject

    @classmethod
    def for_table(
        cls, config, table: str, salt: str, rows_per_file: int = 2_000_000
    ) -> CurateOptions:
        tcfg = config.table(table)
        if tcfg.pii_columns and not salt:
            raise CurateError(
                f"{config.path}: tables.{table}.pii_columns: no salt to hash "
                "with; set JLR_PII_SALT (make up generates one locally)"
            )
        # the job works on warehouse names (contract.names) from the read on
        rules = tcfg.text_rules
        return cls(
            TextRules(
                rules.trim_strings,
                tuple(map(warehouse_name, rules.email_columns)),
                tuple(map(warehouse_name, rules.pii_columns)),
            ),
            salt,
            config.connection.source_time_zone,
            tcfg.partition_column and warehouse_name(tcfg.partition_column),
            tcfg.partition_granularity,
            rows_per_file,
            tcfg.zero_dates,
        )


def _read_raw(
    spark: SparkSession, lake: Lake, manifest: RawManifest, contract: list[dict]
) -> DataFrame:
    """Data records and delete records (tombstones: primary key only) of a raw run."""
    schema = raw_schema(contract)
    parts = []
    for kind in ("data", "delete"):
        paths = [lake.url(f["key"]) for f in manifest.files_of(kind)]
        if paths:
            df = with_warehouse_names(
                spark.read.schema(schema)
                .option("mode", "PERMISSIVE")
                .option("columnNameOfCorruptRecord", CORRUPT)
                .json(paths),
                contract,
            )
            parts.append(
                df.withColumn("_source_file", F.input_file_name()).withColumn(
                    "_is_deleted", F.lit(kind == "delete")
                )
            )
    if not parts:
        return (
            with_warehouse_names(spark.createDataFrame([], schema), contract)
            .withColumn("_source_file", F.lit(None).cast("string"))
            .withColumn("_is_deleted", F.lit(False))
        )
    return parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])


def _written_files(spark: SparkSession, lake: Lake, prefix: str, fmt: str) -> list[dict]:
    """Files really written under prefix with their row counts (read back, not assumed)."""
    if fmt == "parquet":
        df = spark.read.parquet(lake.url(prefix + "/"))
        deleted = F.sum(F.col("_is_deleted").cast("long"))
    else:
        df, deleted = spark.read.text(lake.url(prefix + "/")), F.lit(0)
    counts = (
        df.groupBy(F.input_file_name().alias("f"))
        .agg(F.count(F.lit(1)).alias("rows"), deleted.alias("deletes"))
        .collect()
    )
    return sorted(
        (
            {"key": lake.key_of(r["f"]), "rows": r["rows"], "deletes": r["deletes"] or 0}
            for r in counts
        ),
        key=lambda f: f["key"],
    )


def _checked_records(
    spark: SparkSession,
    lake: Lake,
    manifest: RawManifest,
    contract: list[dict],
    pk: list[str],
    zero_dates: str = "null",
) -> tuple[DataFrame, int, dict[str, int]]:
    """Every raw record cast to its type, with what failed and why; their number, which must
    be the manifest's; and per column the zero-in-date values made null (one pass)."""
    checked = apply_contract(_read_raw(spark, lake, manifest, contract), contract, pk, zero_dates)
    soft = manifest.soft_delete_column
    checked = mark_soft_deletes(checked, soft and warehouse_name(soft))
    # read three times (count, rejects, curated): kept on local disk, not in the heap, so the
    # job's memory does not grow with the batch (MEMORY_AND_DISK ran out of a 2 GB heap on a
    # 5,250,000-row batch)
    checked = checked.persist(StorageLevel.DISK_ONLY)
    zero_counts = zero_date_counts(contract, zero_dates)
    totals = checked.agg(F.count(F.lit(1)), *[agg for _, agg in zero_counts]).first()
    extracted = int(totals[0])
    zeros = {name: int(totals[i + 1] or 0) for i, (name, _) in enumerate(zero_counts)}
    if extracted != manifest.records:
        raise CurateError(
            f"{manifest.table} batch {manifest.run_id}: raw files hold {extracted} records but "
            f"the raw manifest says {manifest.records}"
        )
    return checked, extracted, zeros


def _write_curated(
    lake: Lake, curated: DataFrame, target: str, rows: int, options: CurateOptions
) -> None:
    # an empty batch is written unpartitioned: one file with the schema and no rows (Spark writes
    # no file at all for an empty partitioned write, and Redshift's COPY refuses a manifest
    # without files)
    if options.partition_column and rows > 0:
        # one task per partition value, so each partition gets files of up to rows_per_file rows
        # rather than one small file per task
        key = partition_name(options.partition_column, options.partition_granularity)
        partitioned = with_partition(
            curated, options.partition_column, options.partition_granularity
        )
        (
            partitioned.repartition(key)
            .write.mode("overwrite")
            .partitionBy(key)
            .option("maxRecordsPerFile", options.rows_per_file)
            .parquet(lake.url(target + "/"))
        )
    else:
        n_files = max(1, math.ceil(rows / options.rows_per_file))
        curated.repartition(n_files).write.mode("overwrite").parquet(lake.url(target + "/"))


def _curated_columns(contract: list[dict], options: CurateOptions) -> list[dict]:
    """The batch's columns with their Spark, PostgreSQL and Redshift types, lineage last."""
    pii_columns = list(options.text_rules.pii_columns)
    columns = [
        {
            "name": c["name"],
            "source_name": c.get("source_name", c["name"]),
            "column_type": c["column_type"],
            "nullable": c["nullable"],
            **{k: c["types"][k] for k in ("spark", "postgres", "redshift")},
        }
        for c in curated_types(contract, pii_columns, options.source_time_zone)
    ]
    return columns + [
        {
            "name": n,
            "column_type": "lineage",
            "nullable": n == "_source_file",
            "spark": s,
            "postgres": p,
            "redshift": r,
        }
        for n, s, p, r in LINEAGE_COLUMNS
    ]


def curate_batch(
    spark: SparkSession,
    lake: Lake,
    source: str,
    table: str,
    raw_key: str,
    contract: list[dict],
    options: CurateOptions | None = None,
) -> BatchCurated:
    """One raw run -> one curated batch: checked, cleaned, deduplicated, written, read back,
    reconciled, then committed by its manifest. The key and the cursor are the run's own (its
    raw manifest's). A keyless table's rows are kept as they are: identical rows are data."""
    started = time.perf_counter()
    options = options or CurateOptions()
    manifest = manifests.read_raw(lake, raw_key)
    # the run's key and cursor, by their warehouse names (the columns' names from the read on)
    primary_key = [warehouse_name(k) for k in manifest.primary_key]
    cursor = manifest.cursor and warehouse_name(manifest.cursor)
    batch_id = manifest.run_id
    names = [c["name"] for c in contract]
    checked, extracted, nulled_here = _checked_records(
        spark, lake, manifest, contract, primary_key, options.zero_dates
    )
    # per column: full zero dates the extractor made null, and zero-in-date values made null here
    extracted_zeros = {warehouse_name(k): n for k, n in manifest.zero_dates.items()}
    zeros = dict(Counter(extracted_zeros) + Counter(nulled_here))
    good, bad = split_rejects(checked)
    good = normalise(good, contract, options.text_rules, options.pii_salt)
    good = datetimes_to_utc(good, contract, options.source_time_zone)
    good_rows = good.count()
    if primary_key:
        duplicates = good_rows - good.select(*primary_key).distinct().count()
        good = deduplicate(good, primary_key, cursor, names)
    else:
        duplicates = 0
    curated = with_lineage(good, batch_id, manifest.extracted_at).select(
        *names, *[c[0] for c in LINEAGE_COLUMNS]
    )
    target = layout.curated_batch_prefix(source, table, batch_id)
    _write_curated(lake, curated, target, good_rows, options)
    rejects_at = layout.rejects_prefix(source, table, batch_id)
    lake.delete_prefix(rejects_at)
    if extracted - good_rows:
        reject_records(bad, batch_id).coalesce(1).write.mode("overwrite").json(
            lake.url(rejects_at + "/")
        )
    # counted again from what was written, by another reader than the one that wrote it
    files = _written_files(spark, lake, target, "parquet")
    written = sum(f["rows"] for f in files)
    deletes = sum(f["deletes"] for f in files)
    written_rejects = (
        sum(f["rows"] for f in _written_files(spark, lake, rejects_at, "json"))
        if extracted - good_rows
        else 0
    )
    checked.unpersist()
    if extracted != written + written_rejects + duplicates:
        raise CurateError(
            f"{table} batch {batch_id}: counts do not reconcile: extracted "
            f"{extracted} != curated {written} + rejected {written_rejects} + "
            f"duplicates {duplicates}"
        )
    curated_manifest = CuratedManifest(
        source=source,
        table=table,
        batch_id=batch_id,
        mode=manifest.mode,
        primary_key=primary_key,
        columns=_curated_columns(contract, options),
        files=files,
        counts=Counts(extracted, written, written_rejects, duplicates, deletes),
        raw_manifests=[raw_key],
        cursor=cursor,
        rejects_prefix=rejects_at if written_rejects else None,
        zero_dates_nulled=zeros,
        extracted_at=manifest.extracted_at,
        curated_at=datetime.now(UTC).isoformat(),
        capture=manifest.capture,
    )
    manifest_key = layout.manifest_key(target)
    crash_point("curate.before_manifest")
    manifests.write(lake, manifest_key, curated_manifest)  # the commit point: written last
    crash_point("curate.batch_committed")
    return BatchCurated(
        table=table,
        batch_id=batch_id,
        manifest_key=manifest_key,
        extracted=extracted,
        curated=written,
        rejected=written_rejects,
        duplicates_removed=duplicates,
        deletes=deletes,
        files=len(files),
        seconds=time.perf_counter() - started,
        zero_dates=sum(nulled_here.values()),
    )


def curate_table(
    spark: SparkSession,
    lake: Lake,
    catalog: Catalog,
    source: str,
    table: str,
    options: CurateOptions | None = None,
) -> list[BatchCurated]:
    """Curate every committed raw run of the table that has no curated batch yet."""
    database = layout.raw_database(source)
    done = curated_raw_manifests(lake, source, table)
    results = []
    for partition in catalog.get_partitions(database, warehouse_name(table)):
        raw_key = partition["Parameters"]["jlr.manifest"]
        if raw_key in done:
            continue
        contract = contract_from_columns(table, partition["StorageDescriptor"]["Columns"])
        results.append(curate_batch(spark, lake, source, table, raw_key, contract, options))
    return results


def curated_raw_manifests(lake: Lake, source: str, table: str) -> set[str]:
    """The curate job's bookmark: raw manifests already turned into a committed batch."""
    done: set[str] = set()
    for key in layout.curated_manifests(lake, source, table):
        done.update(manifests.read_curated(lake, key).raw_manifests)
    return done
