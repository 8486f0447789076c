"""Glue job 1: raw tables in the Data Catalog -> curated, typed Parquet (Glue 5.1, Spark 3.5).

Arguments (Glue's ``--NAME value`` form):
  --JOB_NAME   job name (Glue passes it)
  --LAKE_URI   lake root: s3://bucket/prefix on AWS, file:///dir locally
  --SOURCE     source name, e.g. jlr_ops (the raw database is <SOURCE>_raw)
  --TABLES     optional table names (their MySQL names), a JSON array or comma-separated;
               default: every table of the source file's selection in the raw database
  --SOURCE_CONFIG  optional path of the source YAML (default: the packaged
               ingestion/sources/<SOURCE>.yml): trimming, email and PII columns, source zone
  --CATALOG    optional: local (default; JSON under the lake) or glue (the Glue Data Catalog:
               each table's committed raw runs are registered first, with their exact types)

The PII salt comes from a Secrets Manager secret (JLR_PII_SALT_SECRET_ARN) or the environment
(JLR_PII_SALT).

Prints one event (``ingestion.events``) per curated batch and a final one.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from glue_jobs.curate_batches import CurateOptions, build_spark, curate_table
from glue_jobs.glue_args import failure_summary, resolve_args
from ingestion import events
from ingestion.catalog.crawl import crawl_table
from ingestion.catalog.glue import GlueCatalog
from ingestion.catalog.local import LocalCatalog
from ingestion.config.credentials import pii_salt
from ingestion.config.settings import Settings
from ingestion.config.source import SOURCES_DIR, load_source, select_tables, table_list
from ingestion.contract.names import warehouse_name
from ingestion.errors import ConfigError
from ingestion.lake.layout import raw_database, zone_tables
from ingestion.lake.storage import open_lake
from ingestion.lineage.runs import LineageEmitter
from ingestion.lineage.stages import curate_run
from ingestion.logs import emit_metrics

TABLES_AT_ONCE = 4


def main(argv: list[str] | None = None) -> int:
    try:
        args = resolve_args(
            argv,
            ["JOB_NAME", "LAKE_URI", "SOURCE"],
            {"TABLES": "", "SOURCE_CONFIG": "", "CATALOG": "local"},
        )
        config = load_source(args["SOURCE_CONFIG"] or SOURCES_DIR / f"{args['SOURCE']}.yml")
        settings = Settings.load()
        salt = pii_salt(settings)
        lake = open_lake(args["LAKE_URI"])
        # the tables named by the caller (the state machine passes the extracted ones), else
        # every table of the file's selection that has committed raw data
        wanted = table_list(args["TABLES"])
        tables = wanted or select_tables(config, None, zone_tables(lake, "raw", args["SOURCE"]))
        if args["CATALOG"] == "glue":
            catalog = GlueCatalog()
            for table in tables:
                crawl_table(lake, catalog, args["SOURCE"], table)
        elif args["CATALOG"] == "local":
            catalog = LocalCatalog(lake)
            if not wanted:
                registered = set(catalog.list_tables(raw_database(args["SOURCE"])))
                tables = [t for t in tables if warehouse_name(t) in registered]
        else:
            raise ConfigError(f"--CATALOG must be local or glue, not {args['CATALOG']!r}")
        options = {
            t: CurateOptions.for_table(config, t, salt, settings.curated_rows_per_file)
            for t in tables
        }
        lineage = LineageEmitter.from_settings(settings)
        spark = build_spark(args["JOB_NAME"], settings)
        batches = 0
        printing = threading.Lock()

        def curate(table: str) -> int:
            # each table its own scheduler pool: pools share the cores fairly (FAIR mode)
            spark.sparkContext.setLocalProperty("spark.scheduler.pool", warehouse_name(table))
            with curate_run(lineage, lake, args["LAKE_URI"], config, table) as outcome:
                results = curate_table(spark, lake, catalog, args["SOURCE"], table, options[table])
                outcome["rows"] = sum(r.curated for r in results)
            with printing:
                for result in results:
                    events.emit(result)
                    emit_metrics(
                        "curate",
                        table,
                        rows_extracted=result.extracted,
                        rows_curated=result.curated,
                        rows_rejected=result.rejected,
                        duplicates_removed=result.duplicates_removed,
                        seconds=result.seconds,
                    )
            return len(results)

        # Tables side by side in the one session: a small table's batch is mostly the driver's
        # fixed cost per Spark job (planning, scheduling, footers), which overlaps with the
        # other tables' work; the cores are shared fairly between them (build_spark)
        with ThreadPoolExecutor(max_workers=TABLES_AT_ONCE) as pool:
            for done in [pool.submit(curate, table) for table in tables]:
                batches += done.result()  # the first failure fails the job, as one by one did
        events.emit(events.JobFinished("curate", len(tables), batches))
        return 0
    except Exception as exc:  # noqa: BLE001 - ours, a disk, Spark or a driver: one line
        message = failure_summary("curate", exc)
        events.emit(events.Failed("curate", message))
        return 1


if __name__ == "__main__":
    sys.exit(main())
