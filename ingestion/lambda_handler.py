"""The extractor as an AWS Lambda function: ``ingestion.lambda_handler.handler``.

Event (every field optional)::

    {"source": "jlr_ops",            # a packaged ingestion/sources/<source>.yml
     "tables": ["sales_orders"],     # default: every table the source file selects
     "full_refresh": false,
     "continuation": {"tables": [...]}}   # from a previous result: resume there

Result::

    {"status": "complete" | "continue" | "failed",
     "source": "jlr_ops",
     "tables": [{"table", "status", "run_id", "mode", "rows", "deletes", "files", "manifest",
                 "resumed", "seconds"} | {"table", "status": "failed", "error"}],
     "continuation": {"tables": [...]} | null}

``{"action": "tables", "source", "input": {...}}`` returns ``{"status": "complete", "source",
"tables": [...]}``: the input's ``tables`` if it has them (each checked), else the source file's
tables and patterns resolved against the live catalog (the state machine's first step; it extracts,
curates and loads exactly those). A failure raises, so the execution fails with the cause.

``{"action": "lock" | "unlock", "source", "run_id"}`` takes or releases the source's run lock for
a Step Functions execution (``run_id``: its name); a lock held by another run raises
``SourceLocked``, which the state machine retries.

"continue" means the function stopped before its time ran out (``JLR_STOP_MARGIN_MS`` before
the deadline, default 60 s) with every finished chunk committed; invoke it again with the
returned ``continuation`` (the Step Functions loop does) and it resumes at the first uncommitted
chunk. Environment: ``JLR_LAKE_URI`` (``s3://bucket/prefix``), ``JLR_MYSQL_SECRET_ARN`` or
``JLR_MYSQL_HOST``/``_PORT``/``_USER``/``_PASSWORD``; the source file from ``JLR_SOURCE_CONFIG``
(a path or s3:// URI) or ``JLR_SOURCES_URI`` (``<uri>/<source>.yml``, where deploy uploads them).
Logs are JSON lines without secrets.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ingestion.config.credentials import source_endpoint
from ingestion.config.settings import Settings
from ingestion.config.source import SOURCES_DIR, load_source
from ingestion.errors import ConfigError, PlatformError
from ingestion.lake.lock import RunLock
from ingestion.lake.storage import Lake, open_lake
from ingestion.lineage.runs import LineageEmitter
from ingestion.lineage.stages import extract_run
from ingestion.logs import configure, emit_metrics
from ingestion.source.extract import extract_table
from ingestion.source.mysql import connect
from ingestion.source.plan import source_tables

log = logging.getLogger("jlr.extract")


def _config_path(event: dict, settings: Settings) -> str | Path:
    source = event.get("source", "jlr_ops")
    return settings.source_file(source) or SOURCES_DIR / f"{source}.yml"


def _lake(settings: Settings) -> Lake:
    """The lake the function writes: JLR_LAKE_URI must name it (no local default in Lambda)."""
    if "JLR_LAKE_URI" not in settings.given:
        raise ConfigError("missing environment variable JLR_LAKE_URI")
    return open_lake(settings.lake_uri)


def handler(event: dict | None, context) -> dict:
    configure(json_lines=True)
    event = event or {}
    if event.get("action") in ("lock", "unlock"):
        return run_lock(event)

    try:
        settings = Settings.load()
        margin = settings.stop_margin_ms
        config = load_source(_config_path(event, settings))
        given = event.get("input") or event  # the tables action gets the execution's input
        wanted = (event.get("continuation") or {}).get("tables") or given.get("tables")
        endpoint = source_endpoint(config, settings)
        tables, warnings = _source_tables(config, endpoint, wanted)
        lake = _lake(settings) if event.get("action") != "tables" else None
    except PlatformError as exc:
        log.error("extract not started", extra={"error": str(exc)})
        if event.get("action") == "tables":
            raise  # the state machine's catch: the run fails and notifies, naming the cause
        return _failed(event, str(exc))
    for line in warnings:
        log.warning("table selection", extra={"warning": line})
    if event.get("action") == "tables":  # the state machine's first step: what to extract
        log.info("tables selected", extra={"tables": tables})
        return {"status": "complete", "source": config.name, "tables": tables}

    def should_stop() -> bool:
        return context.get_remaining_time_in_millis() < margin

    results, failed = [], False
    database = config.database or endpoint.database  # the file's, if it names one
    lineage = LineageEmitter.from_settings(settings)  # none unless a transport is named
    for i, table in enumerate(tables):
        if should_stop():
            return _continue(config.name, results, tables[i:])
        try:
            with extract_run(
                lineage, lake, settings.lake_uri, endpoint, database, config.name, table
            ) as outcome:
                result = extract_table(
                    config,
                    endpoint,
                    lake,
                    table,
                    database=database,
                    full_refresh=bool(event.get("full_refresh")),
                    should_stop=should_stop,
                    parallel="threads",  # Lambda has no shared memory for a process pool
                )
                outcome["manifest_key"] = result.manifest_key
        except PlatformError as exc:
            failed = True
            log.error("table failed", extra={"table": table, "error": str(exc)})
            results.append({"table": table, "status": "failed", "error": str(exc)})
            emit_metrics("extract", table, failures=1)
            continue
        entry = {
            "table": table,
            "status": result.status,
            "run_id": result.run_id,
            "mode": result.mode,
            "rows": result.rows,
            "deletes": result.deletes,
            "files": result.files,
            "manifest": result.manifest_key,
            "resumed": result.resumed,
            "seconds": round(result.seconds, 3),
            **({"capture": result.capture} if result.capture else {}),
        }
        log.info("table extracted" if result.status == "committed" else "table paused", extra=entry)
        lag = {"capture_lag_seconds": result.capture["lag_seconds"]} if result.capture else {}
        emit_metrics(
            "extract",
            table,
            rows=result.rows,
            deletes=result.deletes,
            seconds=result.seconds,
            **lag,  # mode cdc: the infra's capture-lag alarm watches it
        )
        results.append(entry)
        if result.status == "continue":
            return _continue(config.name, results, tables[i:])
    status = "failed" if failed else "complete"
    log.info("extract finished", extra={"status": status, "tables": len(results)})
    return {"status": status, "source": config.name, "tables": results, "continuation": None}


def _source_tables(config, endpoint, wanted: list[str] | None) -> tuple[list[str], list[str]]:
    """The file's tables (names and patterns) resolved against the source's live catalog."""
    database = config.database or endpoint.database  # the file's, if it names one
    with connect(endpoint, database) as conn:
        return source_tables(config, conn, database, wanted)


def run_lock(event: dict) -> dict:
    """Take or release the source's lock for a run spread over several invocations."""
    source, run_id = event.get("source") or "jlr_ops", str(event["run_id"])
    lock = RunLock(_lake(Settings.load()), source, run_id=run_id, pid=0)
    if event["action"] == "lock":
        lock.acquire()  # SourceLocked propagates: the state machine waits and retries
        log.info("lock taken", extra={"source": source, "run_id": run_id})
        if lock.took_over:
            log.warning("took over a stale lock", extra={"from": lock.took_over.describe()})
    else:
        lock.release()
        log.info("lock released", extra={"source": source, "run_id": run_id})
    return {"status": "complete", "source": source, "action": event["action"], "run_id": run_id}


def _continue(source: str, results: list[dict], remaining: list[str]) -> dict:
    log.info("time nearly up: returning a continuation", extra={"remaining": remaining})
    return {
        "status": "continue",
        "source": source,
        "tables": results,
        "continuation": {"tables": remaining},
    }


def _failed(event: dict, error: str) -> dict:
    return {
        "status": "failed",
        "source": event.get("source"),
        "tables": [],
        "continuation": None,
        "error": error,
    }
