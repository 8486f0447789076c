"""The curate job's I/O: pending raw runs in, curated Parquet batches and rejects out.

A batch is committed by its manifest, written last, after the written files were read back and
the counts reconciled: ``extracted = curated + rejected + duplicates_removed``. Re-running after a
kill rewrites the same batch (its id is the raw run id); a committed batch is never redone.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from glue_jobs.curation import (
    CORRUPT,
    ERRORS,
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
from ingestion.lake.storage import Lake, LocalLake, parquet_rows


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
            # a batch job wants throughput, not short pauses: the parallel collector spends
            # less of the two cores than G1's write barriers and concurrent marking
            .config("spark.driver.extraJavaOptions", "-XX:+UseParallelGC")
            # the job curates several tables at once: their stages share the cores rather than
            # a large table's holding them all while the small ones wait
            .config("spark.scheduler.mode", "FAIR")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")  # the job prints events, not bars
            .config("spark.hadoop.fs.file.impl.disable.cache", "true")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("WARN")
        # Shuffles (the dedupe's, by key) start with one partition per core and adaptive
        # execution merges them by size (64 MB each), not by parallelism: a small table's batch
        # becomes one task and one file per partition value, a large one keeps every core busy.
        # Glue keeps its own defaults (200 partitions, adaptive execution on) for its workers.
        cores = spark.sparkContext.defaultParallelism
        spark.conf.set("spark.sql.shuffle.partitions", str(cores))
        spark.conf.set("spark.sql.adaptive.enabled", "true")
        spark.conf.set("spark.sql.adaptive.coalescePartitions.parallelismFirst", "false")
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


def _written_keys(lake: Lake, prefix: str) -> list[str]:
    """The Parquet files the writer committed under prefix (hidden ``_``/``.`` names are
    Spark's own)."""
    return [
        key
        for key in lake.list(prefix + "/", ".parquet")
        if not any(part[:1] in "_." for part in key[len(prefix) + 1 :].split("/"))
    ]


def _written_files(lake: Lake, prefix: str) -> list[dict]:
    """The Parquet files really written under prefix, each with the row count its footer holds,
    read by pyarrow: another reader than the Spark job that counted the input."""
    return [{"key": key, "rows": parquet_rows(lake, key)} for key in _written_keys(lake, prefix)]


def _json_lines(spark: SparkSession, lake: Lake, prefix: str) -> int:
    """Records in the JSON Lines files written under prefix, read back."""
    return spark.read.text(lake.url(prefix + "/")).count()


@dataclass(frozen=True)
class _Plan:
    """A batch's whole curation as one Spark plan (read, check, clean, dedupe, lineage), and
    what it counts on the pass that writes it: one Observation where rows enter (records and
    zero dates), one after the checks (rejected), one in the dedupe (duplicates removed) and one
    where rows leave (rows and deletions)."""

    curated: DataFrame
    entered: Observation
    checked: Observation
    deduplicated: Observation | None
    leaving: Observation
    zero_columns: list[str]

    def counts(self) -> dict:
        entered, checked, leaving = self.entered.get, self.checked.get, self.leaving.get
        return {
            "extracted": int(entered["records"]),
            "zeros": {n: int(entered[f"zero_{i}"]) for i, n in enumerate(self.zero_columns)},
            "rejected": int(checked["rejected"]),
            "duplicates": int(self.deduplicated.get["duplicates"]) if self.deduplicated else 0,
            "leaving": int(leaving["rows"]),
            "deletes": int(leaving["deletes"]),
        }


DRIVER_KEY_CHECK_ROWS = 1_000_000


def _keys_repeated(
    spark: SparkSession,
    lake: Lake,
    target: str,
    files: list[dict],
    primary_key: list[str],
    on_driver: bool,
) -> bool:
    """Whether a key occurs more than once in the files written under target (``files``, with
    their rows): their key columns read back, by pyarrow in this process when the files are on
    its disk and few (no Spark stage to plan and warm up for a few columns), else by a Spark
    aggregation (no sort; the keys of a large batch stay in Spark's bounded memory, not the
    driver's)."""
    if on_driver and sum(f["rows"] for f in files) <= DRIVER_KEY_CHECK_ROWS:
        import pyarrow as pa
        import pyarrow.parquet as pq

        keys = pa.concat_tables(
            pq.ParquetFile(lake.path(f["key"])).read(columns=primary_key) for f in files
        )
        return keys.group_by(primary_key).aggregate([]).num_rows < keys.num_rows
    written = spark.read.parquet(lake.url(target + "/")).select(*primary_key)
    return bool(written.groupBy(*primary_key).count().where(F.col("count") > 1).head(1))


def _observation(what: str) -> Observation:
    # Spark matches an observation's metrics to it by name: unique per batch, since tables'
    # batches run side by side in one session
    return Observation(f"{what}_{uuid.uuid4().hex}")


def _checked(
    spark: SparkSession, lake: Lake, manifest: RawManifest, contract: list[dict], pk: list[str],
    zero_dates: str, entered: Observation | None = None,
) -> tuple[DataFrame, list[str]]:  # fmt: skip
    """Every raw record cast to its type, with what failed and why (``apply_contract``)."""
    raw = _read_raw(spark, lake, manifest, contract)
    zero_counts = zero_date_counts(contract, zero_dates)
    if entered is not None:
        raw = raw.observe(
            entered,
            F.count(F.lit(1)).alias("records"),
            *[agg.alias(f"zero_{i}") for i, (_, agg) in enumerate(zero_counts)],
        )
    checked = apply_contract(raw, contract, pk, zero_dates)
    soft = manifest.soft_delete_column
    return mark_soft_deletes(checked, soft and warehouse_name(soft)), [n for n, _ in zero_counts]


def _plan(
    spark: SparkSession, lake: Lake, manifest: RawManifest, contract: list[dict],
    options: CurateOptions, dedupe: bool,
) -> _Plan:  # fmt: skip
    primary_key = [warehouse_name(k) for k in manifest.primary_key]
    cursor = manifest.cursor and warehouse_name(manifest.cursor)
    names = [c["name"] for c in contract]
    entered, checks, leaving = map(_observation, ("entered", "checked", "leaving"))
    checked, zero_columns = _checked(
        spark, lake, manifest, contract, primary_key, options.zero_dates, entered
    )
    checked = checked.observe(checks, F.count(F.when(F.size(ERRORS) > 0, 1)).alias("rejected"))
    good, _ = split_rejects(checked)
    good = normalise(good, contract, options.text_rules, options.pii_salt)
    good = datetimes_to_utc(good, contract, options.source_time_zone)
    deduplicated = None
    if dedupe:
        deduplicated = _observation("deduplicated")
        good = deduplicate(good, primary_key, cursor, names, deduplicated)
    curated = with_lineage(good, manifest.run_id, manifest.extracted_at).select(
        *names, *[c[0] for c in LINEAGE_COLUMNS]
    )
    curated = curated.observe(
        leaving,
        F.count(F.lit(1)).alias("rows"),
        F.count(F.when(F.col("_is_deleted"), 1)).alias("deletes"),
    )
    return _Plan(curated, entered, checks, deduplicated, leaving, zero_columns)


def _write_curated(
    spark: SparkSession,
    lake: Lake,
    curated: DataFrame,
    target: str,
    options: CurateOptions,
    records: int,
) -> None:
    """One write, straight from the tasks that read (or dedupe) the batch: no shuffle of its
    own. A partitioned table's files are one per task and partition value (at most
    rows_per_file rows each); a small batch is one task. A batch without records is written
    unpartitioned: one file holding the schema."""
    url = lake.url(target + "/")
    if options.partition_column and records:
        key = partition_name(options.partition_column, options.partition_granularity)
        partitioned = with_partition(
            curated, options.partition_column, options.partition_granularity
        )
        writer = partitioned.write.partitionBy(key)
    else:
        writer = curated.write
    writer.mode("overwrite").option("maxRecordsPerFile", options.rows_per_file).parquet(url)
    if not _written_keys(lake, target):
        # no row to write (an empty batch, or every row rejected): Spark writes no file for an
        # empty partitioned write, and Redshift's COPY refuses a manifest without files; one
        # file with the schema and no rows, unpartitioned
        empty = spark.createDataFrame([], curated.schema)
        empty.coalesce(1).write.mode("overwrite").parquet(url)


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
    """One raw run -> one curated batch: checked, cleaned, deduplicated and written in one pass
    over the raw files, then reconciled and committed by its manifest. The key and the cursor
    are the run's own (its raw manifest's).

    Every count comes from a different place than the next one: records entering (counted by
    Spark as they are read, and compared with the raw manifest), rows removed by the dedupe
    (counted by the dedupe), rows written (the Parquet footers of the files on the lake, read by
    pyarrow) and rows rejected (the rejects files read back). ``extracted = curated + rejected +
    duplicates`` must hold between them, so a row dropped or doubled on the way, or a file lost,
    stops the batch before its commit."""
    started = time.perf_counter()
    options = options or CurateOptions()
    manifest = manifests.read_raw(lake, raw_key)
    primary_key = [warehouse_name(k) for k in manifest.primary_key]
    batch_id = manifest.run_id
    target = layout.curated_batch_prefix(source, table, batch_id)
    # Written without the dedupe first: it is the one shuffle of the job, and a run read from
    # one snapshot holds each key once. The keys written are then counted (key columns of the
    # written files only); a batch that does hold a key twice is written again, deduplicated.
    plan = _plan(spark, lake, manifest, contract, options, dedupe=False)
    _write_curated(spark, lake, plan.curated, target, options, manifest.records)
    seen = plan.counts()
    # counted once per write, from what is on the lake: the key check and the reconciliation
    # below read the same footers
    files = _written_files(lake, target)
    on_driver = isinstance(lake, LocalLake)
    if primary_key and _keys_repeated(spark, lake, target, files, primary_key, on_driver):
        plan = _plan(spark, lake, manifest, contract, options, dedupe=True)
        _write_curated(spark, lake, plan.curated, target, options, manifest.records)
        seen = plan.counts()
        files = _written_files(lake, target)
    extracted = seen["extracted"]
    if extracted != manifest.records:
        raise CurateError(
            f"{manifest.table} batch {batch_id}: raw files hold {extracted} records but "
            f"the raw manifest says {manifest.records}"
        )
    rejects_at = layout.rejects_prefix(source, table, batch_id)
    lake.delete_prefix(rejects_at)
    written_rejects = 0
    if seen["rejected"]:  # a second pass over the raw files, only for a batch with rejects
        bad_rows = split_rejects(
            _checked(spark, lake, manifest, contract, primary_key, options.zero_dates)[0]
        )[1]
        reject_records(bad_rows, batch_id).coalesce(1).write.mode("overwrite").json(
            lake.url(rejects_at + "/")
        )
        written_rejects = _json_lines(spark, lake, rejects_at)
    written = sum(f["rows"] for f in files)
    duplicates = seen["duplicates"]
    if extracted != written + written_rejects + duplicates or written != seen["leaving"]:
        raise CurateError(
            f"{table} batch {batch_id}: counts do not reconcile: extracted "
            f"{extracted} != curated {written} (files on the lake; {seen['leaving']} left the "
            f"job) + rejected {written_rejects} + duplicates {duplicates}"
        )
    # per column: full zero dates the extractor made null, and zero-in-date values made null here
    extracted_zeros = {warehouse_name(k): n for k, n in manifest.zero_dates.items()}
    zeros = dict(Counter(extracted_zeros) + Counter(seen["zeros"]))
    curated_manifest = CuratedManifest(
        source=source,
        table=table,
        batch_id=batch_id,
        mode=manifest.mode,
        primary_key=primary_key,
        columns=_curated_columns(contract, options),
        files=files,
        counts=Counts(extracted, written, written_rejects, duplicates, seen["deletes"]),
        raw_manifests=[raw_key],
        cursor=manifest.cursor and warehouse_name(manifest.cursor),
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
        deletes=seen["deletes"],
        files=len(files),
        seconds=time.perf_counter() - started,
        zero_dates=sum(seen["zeros"].values()),
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
    partitions = catalog.get_partitions(database, warehouse_name(table))
    raw_keys = [p["Parameters"]["jlr.manifest"] for p in partitions]
    done = curated_raw_manifests(lake, source, table, raw_keys)
    results = []
    for partition, raw_key in zip(partitions, raw_keys, strict=True):
        if raw_key in done:
            continue
        contract = contract_from_columns(table, partition["StorageDescriptor"]["Columns"])
        results.append(curate_batch(spark, lake, source, table, raw_key, contract, options))
    return results


def curated_raw_manifests(lake: Lake, source: str, table: str, raw_keys) -> set[str]:
    """The curate job's bookmark: which of raw_keys are already a committed batch. A batch is
    named after its raw run, so one listing of the committed batches tells, whatever their
    number, without reading a manifest."""
    committed = set(layout.curated_manifests(lake, source, table))
    batch = layout.curated_batch_prefix
    return {
        key
        for key in raw_keys
        if layout.manifest_key(batch(source, table, layout.run_id_of(key))) in committed
    }
