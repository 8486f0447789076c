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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingestion import events
from ingestion.catalog.crawl import crawl_table
from ingestion.catalog.local import LocalCatalog
from ingestion.config.credentials import source_endpoint
from ingestion.config.settings import REPO_ROOT, Settings
from ingestion.config.source import SourceConfig
from ingestion.errors import PlatformError, TableError
from ingestion.events import Event
from ingestion.lake import layout
from ingestion.lake.lock import RunLock
from ingestion.lake.storage import open_lake
from ingestion.lineage.runs import LineageEmitter
from ingestion.lineage.stages import extract_run
from ingestion.source.extract import extract_table
from ingestion.source.mysql import connect
from ingestion.source.plan import plan_table

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
    capture: dict | None = None  # mode cdc: what the binlog gave (ExtractResult.capture)
    note: str | None = None  # e.g. a cdc table copied afresh, and why

    def apply(self, event: events.BatchCurated | events.BatchLoaded) -> None:
        """Take the counts of this run's batch (its id is the extract run id); a batch of an
        earlier, interrupted run finished on the way is counted as a catch-up."""
        if event.batch_id != self.run_id:
            if isinstance(event, events.BatchCurated):
                self.catch_up += 1
            return
        if isinstance(event, events.BatchCurated):
            self.curated, self.rejected = event.curated, event.rejected
            self.duplicates, self.deletes = event.duplicates_removed, event.deletes
            self.zero_dates += event.zero_dates
        elif event.status == "loaded":
            self.loaded, self.deletes_applied = event.rows_loaded, event.rows_tombstoned

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
    def event(self, stage: str, event: Event) -> None: ...


@dataclass(frozen=True)
class Job:
    """A Glue job script and the arguments it takes besides ``--TABLES``."""

    stage: str
    script: str
    args: list[str]


def run_job(
    job: Job, tables: list[str], env: dict[str, str], log_path: Path, on_event
) -> tuple[int, str | None]:
    """Run a Glue job script like Glue does, as its own process; every event it prints goes to
    ``on_event``. Returns (exit code, the job's own failure when it failed as a whole)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    error = None
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own script, arguments are a list
            [sys.executable, str(GLUE_JOBS / job.script), *job.args]
            + ["--TABLES", json.dumps(tables)],  # a JSON array, as Step Functions passes it
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, **env, "SPARK_LOCAL_IP": "127.0.0.1"},
            cwd=REPO_ROOT,
        )
        if proc.stdout is None:  # stdout=PIPE always gives one
            raise PlatformError(f"job {job.script}: no output pipe")
        for line in proc.stdout:
            log.write(line)
            event = events.parse(line)
            if isinstance(event, events.Failed) and event.table is None:
                error = event.error
            if event is not None:
                on_event(event)
        code = proc.wait()
    if code and not error:
        error = f"job {job.script} exited with code {code}; see {log_path}"
    return code, error


@dataclass
class Ingest:
    """One ``make ingest`` of a source: check, extract, crawl, curate, load; each stage works on
    the tables that have not failed yet, and records what it did in their ``TableRun``."""

    config: SourceConfig
    settings: Settings
    database: str
    tables: list[str]
    reporter: Reporter | None = None
    full_refresh: bool = False
    lock_wait_seconds: float = 0  # another run of the source holds the lock: wait this long

    def __post_init__(self) -> None:
        self.reporter = self.reporter or Reporter()
        self.stage_seconds: dict[str, float] = {}  # wall seconds of each stage, in run order
        self.runs = {t: TableRun(t) for t in self.tables}
        self.lake = open_lake(self.settings.lake_uri)
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.endpoint = self.settings.mysql  # the source's, from a secret if named: run()
        self.lineage = LineageEmitter(None)  # OpenLineage events: run() opens the transport

    def todo(self) -> list[str]:
        return [t for t in self.tables if not self.runs[t].error]

    def check(self) -> dict[str, int]:
        """Plan every table against the live source (a bad configuration stops here, before any
        data moves); returns the source's row estimates for the progress bars."""
        mysql = self.endpoint
        self.reporter.stage(
            "check",
            f"{len(self.tables)} tables against {self.database} on {mysql.host}:{mysql.port}",
        )
        with connect(mysql, self.database) as conn:
            for table in self.tables:
                try:
                    plan_table(self.config, conn, self.database, table)
                except TableError as exc:  # that table only; the others go on
                    self.runs[table].error = f"check: {exc}"
            with conn.cursor() as cur:
                cur.execute(
                    "select table_name, table_rows from information_schema.tables "
                    "where table_schema = %s",
                    (self.database,),
                )
                return {name: int(rows or 0) for name, rows in cur.fetchall()}

    def extract(self, estimates: dict[str, int]) -> None:
        self.reporter.stage("extract", "MySQL -> raw zone (gzip JSON Lines)")
        for table in self.todo():
            run = self.runs[table]
            started = time.perf_counter()
            self.reporter.extract_started(table, estimates.get(table, 0))
            lineage = extract_run(
                self.lineage,
                self.lake,
                self.settings.lake_uri,
                self.endpoint,
                self.database,
                self.config.name,
                table,
            )
            try:
                with lineage as outcome:
                    result = extract_table(
                        self.config,
                        self.endpoint,
                        self.lake,
                        table,
                        database=self.database,
                        full_refresh=self.full_refresh,
                        on_rows=lambda n, t=table: self.reporter.extract_rows(t, n),
                    )
                    outcome["manifest_key"] = result.manifest_key
            except PlatformError as exc:
                run.error = f"extract: {exc}"
            else:
                run.extracted = result.rows + result.deletes
                run.zero_dates = sum(result.zero_dates.values())
                run.run_id, run.mode = result.run_id, result.mode
                run.capture, run.note = result.capture, result.note
                self.reporter.extract_done(table, result.rows)
            run.seconds += time.perf_counter() - started

    def crawl(self) -> None:
        self.reporter.stage("crawl", "raw zone -> catalog")
        catalog = LocalCatalog(self.lake)
        for table in self.todo():
            try:
                crawl_table(self.lake, catalog, self.config.name, table)
            except PlatformError as exc:
                self.runs[table].error = f"crawl: {exc}"

    def run_stage(self, job: Job) -> None:
        """Run a job over the tables still going; its events fill in their runs."""
        todo = self.todo()
        if not todo:
            return
        started = time.perf_counter()
        failed: set[str] = set()

        def on_event(event: Event) -> None:
            self.reporter.event(job.stage, event)
            run = self.runs.get(getattr(event, "table", None))
            if run is None:
                return
            if isinstance(event, events.Failed):
                failed.add(event.table)
                run.error = f"{job.stage}: {event.error}"
            elif isinstance(event, events.BatchCurated | events.BatchLoaded):
                run.apply(event)

        log_path = self.settings.local_dir / "logs" / f"{job.stage}-{self.stamp}.log"
        env = self.settings.to_env()
        if self.lineage.parent:  # the jobs' runs are this ingest's
            env["JLR_LINEAGE_PARENT"] = " ".join(self.lineage.parent)
        code, error = run_job(job, todo, env, log_path, on_event)
        share = (time.perf_counter() - started) / len(todo)
        for table in todo:
            self.runs[table].seconds += share
            if code and not failed:  # the job failed as a whole, not table by table
                self.runs[table].error = f"{job.stage}: {error}"

    def jobs(self) -> tuple[Job, Job]:
        common = ["--LAKE_URI", self.settings.lake_uri, "--SOURCE", self.config.name]
        common += ["--SOURCE_CONFIG", str(self.config.path)]
        curate = Job("curate", "curate_raw.py", ["--JOB_NAME", "jlr-curate", *common])
        load = Job(
            "load",
            "load_staging.py",
            ["--JOB_NAME", "jlr-load", *common, "--WAREHOUSE_SCHEMA", self.config.warehouse_schema],
        )
        return curate, load

    def run(self) -> list[TableRun]:
        """Every stage, holding the source's run lock (a second run of the same source waits
        up to ``lock_wait_seconds``, then stops with a line naming the holder)."""
        with RunLock(self.lake, self.config.name, wait_seconds=self.lock_wait_seconds):
            self.lineage = LineageEmitter.from_settings(self.settings)
            with self.lineage.run(f"{self.config.name}.ingest", []) as ingest:
                self.lineage.parent = (ingest.job, ingest.run_id)
                self._stages()
        return [self.runs[t] for t in self.tables]

    def _stages(self) -> None:
        self.endpoint = source_endpoint(self.config, self.settings)
        with self._timed("check"):
            estimates = self.check()
        with self._timed("extract"):
            self.extract(estimates)
        with self._timed("crawl"):
            self.crawl()
        curate, load = self.jobs()
        self.reporter.stage("curate", "Glue job glue_jobs/curate_raw.py on Spark (local mode)")
        with self._timed("curate"):
            self.run_stage(curate)
        self.reporter.stage(
            "load",
            f"Glue job glue_jobs/load_staging.py -> PostgreSQL "
            f"{self.settings.postgres.database}.{self.config.warehouse_schema}",
        )
        with self._timed("load"):
            self.run_stage(load)

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[stage] = time.perf_counter() - started


def run_ingest(*args, **kwargs) -> list[TableRun]:
    """``Ingest(*args, **kwargs).run()``: ingest the tables of a source, one run at a time."""
    return Ingest(*args, **kwargs).run()


def reset_source(config: SourceConfig, settings: Settings) -> None:
    """Forget everything the pipeline holds for a source: its lake zones, catalog and state, its
    staging schema and audit rows. Used when the source itself is recreated (``make seed``):
    watermarks and staging rows of the old source would otherwise disagree with the new one."""
    from psycopg import sql

    from ingestion.warehouse.postgres import pg_connect

    lake = open_lake(settings.lake_uri)
    with RunLock(lake, config.name):  # never under a running ingest of the source
        for prefix in layout.source_prefixes(config.name):
            lake.delete_prefix(prefix)
    with pg_connect(settings.postgres) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute(
            sql.SQL("drop schema if exists {} cascade").format(
                sql.Identifier(config.warehouse_schema)
            )
        )
        cur.execute("select to_regclass('ops.load_audit') is not null")
        if cur.fetchone()[0]:
            cur.execute("delete from ops.load_audit where source = %s", (config.name,))
