"""``make ingest``: extract -> crawl -> curate (Glue job 1) -> load (Glue job 2), for each table.

Configuration is checked against the live source before any data moves. The two Glue job scripts
run as they would in Glue: as separate processes with Glue-style arguments, their structured
(JSON line) output read back here; Spark's own log goes to a file. Counts are reconciled per table
(extracted = curated + rejected + duplicates removed; curated = loaded) and shown in a summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingestion.catalog import LocalCatalog, crawl_table
from ingestion.config import SourceConfig
from ingestion.errors import PlatformError
from ingestion.extract import extract_table, plan_table
from ingestion.lake import open_lake
from ingestion.mysql_source import connect
from ingestion.settings import REPO_ROOT, Settings

GLUE_JOBS = REPO_ROOT / "glue_jobs"


@dataclass
class TableRun:
    """One table's run. ``extracted`` counts every raw record, tombstones included;
    ``deletes`` counts the curated rows that mark a deletion (tombstones, soft deletes)."""

    table: str
    mode: str = ""
    extracted: int = 0
    zero_dates: int = 0
    curated: int = 0
    deletes: int = 0
    rejected: int = 0
    duplicates: int = 0
    loaded: int = 0
    deletes_applied: int = 0
    seconds: float = 0.0
    run_id: str | None = None
    catch_up: int = 0  # earlier batches (from interrupted runs) finished on the way
    error: str | None = None

    @property
    def reconciled(self) -> bool:
        return (
            self.extracted == self.curated + self.rejected + self.duplicates
            and self.curated == self.loaded + self.deletes_applied
            and self.deletes == self.deletes_applied
        )

    @property
    def status(self) -> str:
        if self.error:
            return "failed"
        return "ok" if self.reconciled else "mismatch"


class Reporter:
    """What the pipeline tells a person (the CLI renders it with rich; tests stay silent)."""

    def stage(self, name: str, detail: str = "") -> None: ...
    def extract_started(self, table: str, estimate: int) -> None: ...
    def extract_rows(self, table: str, rows: int) -> None: ...
    def extract_done(self, table: str, rows: int) -> None: ...
    def event(self, stage: str, event: dict) -> None: ...


def _run_job(
    script: str,
    args: list[str],
    env: dict[str, str],
    log_path: Path,
    on_event: Callable[[dict], None],
) -> tuple[int, str | None]:
    """Run a Glue job script like Glue does; returns (exit code, error reported by the job)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    error = None
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own script, arguments are a list
            [sys.executable, str(GLUE_JOBS / script), *args],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, **env, "SPARK_LOCAL_IP": "127.0.0.1"},
            cwd=REPO_ROOT,
        )
        if proc.stdout is None:  # stdout=PIPE always gives one
            raise PlatformError(f"job {script}: no output pipe")
        for line in proc.stdout:
            log.write(line)
            if line.startswith("{"):
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if event.get("event", "").endswith("_failed") and "table" not in event:
                    error = event.get("error")
                on_event(event)
        code = proc.wait()
    if code and not error:
        error = f"job {script} exited with code {code}; see {log_path}"
    return code, error


def run_ingest(
    config: SourceConfig,
    settings: Settings,
    database: str,
    tables: list[str],
    reporter: Reporter | None = None,
    full_refresh: bool = False,
) -> list[TableRun]:
    reporter = reporter or Reporter()
    runs = {t: TableRun(t) for t in tables}
    lake = open_lake(settings.lake_uri)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = settings.local_dir / "logs"

    reporter.stage(
        "check",
        f"{len(tables)} tables against {database} on {settings.mysql.host}:{settings.mysql.port}",
    )
    with connect(settings.mysql, database) as conn:
        for table in tables:  # a bad configuration stops here, before any data moves
            plan_table(config, conn, database, table)
        with conn.cursor() as cur:
            cur.execute(
                "select table_name, table_rows from information_schema.tables "
                "where table_schema = %s",
                (database,),
            )
            estimates = {name: int(rows or 0) for name, rows in cur.fetchall()}

    reporter.stage("extract", "MySQL -> raw zone (gzip JSON Lines)")
    for table in tables:
        run = runs[table]
        started = time.perf_counter()
        reporter.extract_started(table, estimates.get(table, 0))
        try:
            result = extract_table(
                config,
                settings.mysql,
                lake,
                table,
                database=database,
                full_refresh=full_refresh,
                on_rows=lambda n, t=table: reporter.extract_rows(t, n),
            )
        except PlatformError as exc:
            run.error = f"extract: {exc}"
        else:
            run.extracted = result.rows + result.deletes
            run.zero_dates = sum(result.zero_dates.values())
            run.run_id, run.mode = result.run_id, result.mode
            reporter.extract_done(table, result.rows)
        run.seconds += time.perf_counter() - started

    reporter.stage("crawl", "raw zone -> catalog")
    catalog = LocalCatalog(lake)
    for table in [t for t in tables if not runs[t].error]:
        try:
            crawl_table(lake, catalog, config.name, table)
        except PlatformError as exc:
            runs[table].error = f"crawl: {exc}"

    def run_stage(stage: str, script: str, args: list[str], apply: Callable[[dict], None]) -> None:
        todo = [t for t in tables if not runs[t].error]
        if not todo:
            return
        started = time.perf_counter()
        log_path = logs / f"{stage}-{stamp}.log"

        failed: set[str] = set()

        def on_event(event: dict) -> None:
            reporter.event(stage, event)
            if event.get("event") == "table_failed" and event.get("table") in runs:
                failed.add(event["table"])
                runs[event["table"]].error = f"{stage}: {event['error']}"
            elif event.get("table") in runs:
                apply(event)

        code, error = _run_job(
            script, [*args, "--TABLES", ",".join(todo)], settings.to_env(), log_path, on_event
        )
        share = (time.perf_counter() - started) / len(todo)
        for table in todo:
            runs[table].seconds += share
            if code and not failed:  # the job failed as a whole, not table by table
                runs[table].error = f"{stage}: {error}"

    # Counts reconcile per batch: this run's batch is the one whose id is its extract run id.
    def on_curated(event: dict) -> None:
        run = runs[event["table"]]
        if event["batch_id"] != run.run_id:
            run.catch_up += 1
            return
        run.curated, run.rejected = event["curated"], event["rejected"]
        run.duplicates, run.deletes = event["duplicates_removed"], event["deletes"]

    reporter.stage("curate", "Glue job glue_jobs/curate_raw.py on Spark (local mode)")
    run_stage(
        "curate",
        "curate_raw.py",
        [
            "--JOB_NAME",
            "jlr-curate",
            "--LAKE_URI",
            settings.lake_uri,
            "--SOURCE",
            config.name,
            "--SOURCE_CONFIG",
            str(config.path),
        ],
        on_curated,
    )

    def on_loaded(event: dict) -> None:
        run = runs[event["table"]]
        if event["batch_id"] == run.run_id and event.get("status") == "loaded":
            run.loaded, run.deletes_applied = event["rows_loaded"], event["rows_tombstoned"]

    reporter.stage(
        "load",
        f"Glue job glue_jobs/load_staging.py -> PostgreSQL "
        f"{settings.postgres.database}.{config.warehouse_schema}",
    )
    run_stage(
        "load",
        "load_staging.py",
        [
            "--JOB_NAME",
            "jlr-load",
            "--LAKE_URI",
            settings.lake_uri,
            "--SOURCE",
            config.name,
            "--WAREHOUSE_SCHEMA",
            config.warehouse_schema,
            "--SOURCE_CONFIG",
            str(config.path),
        ],
        on_loaded,
    )
    return [runs[t] for t in tables]


def reset_source(config: SourceConfig, settings: Settings) -> None:
    """Forget everything the pipeline holds for a source: its lake zones, catalog and state, its
    staging schema and audit rows. Used when the source itself is recreated (``make seed``):
    watermarks and staging rows of the old source would otherwise disagree with the new one."""
    from psycopg import sql

    from ingestion.catalog import raw_database
    from ingestion.warehouse_postgres import pg_connect

    lake = open_lake(settings.lake_uri)
    for prefix in ("raw", "curated", "rejects", "_state"):
        lake.delete_prefix(f"{prefix}/{config.name}")
    lake.delete_prefix(f"_catalog/{raw_database(config.name)}")
    with pg_connect(settings.postgres) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute(
            sql.SQL("drop schema if exists {} cascade").format(
                sql.Identifier(config.warehouse_schema)
            )
        )
        cur.execute("select to_regclass('ops.load_audit') is not null")
        if cur.fetchone()[0]:
            cur.execute("delete from ops.load_audit where source = %s", (config.name,))
