"""Glue job 2: curated Parquet batches -> warehouse staging tables, exactly once.

Arguments (Glue's ``--NAME value`` form):
  --JOB_NAME          job name (Glue passes it)
  --LAKE_URI          lake root: s3://bucket/prefix on AWS, file:///dir locally
  --SOURCE            source name, e.g. jlr_ops
  --WAREHOUSE_SCHEMA  schema of the staging tables, e.g. jlr_ops_staging
  --TABLES            optional table names (MySQL names), a JSON array or comma-separated
                      (default: every table of the source file with a curated batch)
  --WAREHOUSE         optional: postgres (default; the local stand-in) or redshift
  --SOURCE_CONFIG     optional path of the source YAML (default: the packaged
                      ingestion/sources/<SOURCE>.yml): Redshift dist and sort keys

PostgreSQL is reached through JLR_PG_HOST / _PORT / _USER / _PASSWORD / _DATABASE; Redshift
through JLR_REDSHIFT_* (see ingestion/warehouse/redshift.py). Prints one event
(``ingestion.events``) per batch, one per failed table, and a final one; exits 1 when any table
failed.
"""

from __future__ import annotations

import sys

from glue_jobs.glue_args import failure_summary, resolve_args
from ingestion import events
from ingestion.config.settings import Settings
from ingestion.config.source import SOURCES_DIR, load_source, select_tables, table_list
from ingestion.contract.names import warehouse_name
from ingestion.errors import ConfigError
from ingestion.lake.layout import zone_tables
from ingestion.lake.storage import open_lake
from ingestion.lineage.runs import LineageEmitter
from ingestion.lineage.stages import finish_loads, start_loads
from ingestion.logs import emit_metrics
from ingestion.warehouse.interface import load_pending


def _open_warehouse(kind: str, config, settings: Settings, tables: list[str]):
    if kind == "postgres":
        from ingestion.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(settings.postgres)
    if kind == "redshift":
        from contextlib import nullcontext

        from ingestion.warehouse.redshift import DataApi, RedshiftTarget, RedshiftWarehouse
        from ingestion.warehouse.redshift_sql import Layout

        layouts = {  # by MySQL table name; the keys by their warehouse names
            name: Layout(
                t.dist_key and warehouse_name(t.dist_key), tuple(map(warehouse_name, t.sort_keys))
            )
            for name, t in ((n, config.table(n)) for n in tables)
        }
        target = RedshiftTarget.from_env(settings.redshift)
        return nullcontext(RedshiftWarehouse(DataApi(target), layouts))
    raise ConfigError(f"--WAREHOUSE must be postgres or redshift, not {kind!r}")


def main(argv: list[str] | None = None) -> int:
    lineage, runs = LineageEmitter(None), {}
    try:
        args = resolve_args(
            argv,
            ["JOB_NAME", "LAKE_URI", "SOURCE", "WAREHOUSE_SCHEMA"],
            {"TABLES": "", "WAREHOUSE": "postgres", "SOURCE_CONFIG": ""},
        )
        config = load_source(args["SOURCE_CONFIG"] or SOURCES_DIR / f"{args['SOURCE']}.yml")
        lake = open_lake(args["LAKE_URI"])
        tables = table_list(args["TABLES"]) or select_tables(
            config, None, zone_tables(lake, "curated", args["SOURCE"])
        )
        settings = Settings.load()
        lineage = LineageEmitter.from_settings(settings)
        runs = start_loads(lineage, args["LAKE_URI"], args["SOURCE"], tables)
        with _open_warehouse(args["WAREHOUSE"], config, settings, tables) as warehouse:
            results, failures = load_pending(
                warehouse,
                lake,
                args["SOURCE"],
                args["WAREHOUSE_SCHEMA"],
                tables,
            )
        rows: dict[str, int] = {}
        for result in results:
            rows[result.table] = rows.get(result.table, 0) + result.rows_loaded
        database = (
            settings.redshift.get("JLR_REDSHIFT_DATABASE", "dev")
            if args["WAREHOUSE"] == "redshift"
            else settings.postgres.database
        )
        finish_loads(
            lineage, runs, settings, lake, args["LAKE_URI"], config, args["WAREHOUSE"],
            database, args["WAREHOUSE_SCHEMA"], rows, {f.table: f.error for f in failures},
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - ours, a disk, Spark or a driver: one line
        message = failure_summary("load", exc)
        for run in runs.values():
            lineage.fail(run, message)
        events.emit(events.Failed("load", message))
        return 1
    for result in results:
        events.emit(events.BatchLoaded(**result.as_dict()))
        emit_metrics(
            "load",
            result.table,
            rows_loaded=result.rows_loaded,
            rows_deleted=result.rows_deleted,
            seconds=result.seconds,
        )
    for failure in failures:
        emit_metrics("load", failure.table, failures=1)
    for failure in failures:
        events.emit(events.Failed("load", failure.error, failure.table))
        print(f"load: {failure.table}: {failure.error}", file=sys.stderr)
    events.emit(events.JobFinished("load", len(tables), len(results), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
