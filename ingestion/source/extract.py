"""Extract: MySQL table -> raw zone (gzip JSON Lines chunks, then a manifest, written last).

How a run reads:

* **full** — the whole table inside one consistent snapshot (``START TRANSACTION WITH
  CONSISTENT SNAPSHOT``), one ordered stream per primary-key range (``streams``).
* **incremental** — rows with ``low < cursor <= high``: ``high`` is the server's clock at the
  run's start minus ``safety_lag_seconds``; ``low`` is the committed watermark minus
  ``lookback_seconds``. A table's first run is full. The watermark advances only after the run's
  manifest is committed.
* **append** — like incremental (``low < cursor <= high``), for append-only tables: the rows
  are inserted as they are, never merged, so the table needs no key.
* **keyless tables** (no primary key, none declared) — ``full`` or ``append``. Their rows have
  no order to resume from, so a killed run of one starts over (on Lambda, a keyless table must be
  read within one invocation; give a large one a ``primary_key`` to make it resumable).
* **hard deletes** — with ``hard_deletes``, each run compares the table's primary keys with the
  previous run's key list and writes delete records (tombstones) for keys that disappeared.

Restartable: every chunk (one file, capped by rows and bytes) is committed on its own with a
small marker under the run's prefix; a run killed at any point resumes at the first uncommitted
chunk of each stream, with the same window. Nothing of an unfinished run is visible to readers:
only the manifest commits it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from typing import Literal

from ingestion.config.settings import Endpoint
from ingestion.config.source import SourceConfig
from ingestion.contract.typemap import map_column
from ingestion.errors import SourceError
from ingestion.faults import crash_point
from ingestion.lake import layout, manifests
from ingestion.lake.state import TableState
from ingestion.lake.storage import Lake
from ingestion.source import binlog
from ingestion.source.deletes import compare_keys, write_tombstones
from ingestion.source.mysql import connect, quote_ident
from ingestion.source.plan import TablePlan, plan_table
from ingestion.source.stream import (
    NO_DECODING,
    StreamResult,
    StreamTask,
    _after_key_params,
    _after_key_sql,
    row_json_sql,
    run_stream,
    zero_date_patterns,
)


@dataclass
class ExtractResult:
    table: str
    run_id: str
    status: str  # committed | continue (stopped early, resumable)
    manifest_key: str | None
    mode: str
    rows: int = 0
    deletes: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    resumed: bool = False
    window: dict = field(default_factory=dict)
    zero_dates: dict[str, int] = field(default_factory=dict)
    capture: dict | None = None  # mode cdc: events by operation, position reached, lag
    note: str | None = None  # e.g. why a cdc table was copied afresh


def _server_window(conn, tz: str, lag: int) -> str:
    with conn.cursor() as cur:
        cur.execute(
            "select date_sub(convert_tz(utc_timestamp(6), '+00:00', %s), interval %s second)",
            (tz, lag),
        )
        return str(cur.fetchone()[0])


def _key_ranges(conn, database: str, plan: TablePlan, streams: int) -> list[tuple]:
    if streams == 1:
        return [(None, None)]
    pk = quote_ident(plan.primary_key[0])
    with conn.cursor() as cur:
        cur.execute(
            f"select min({pk}), max({pk}) from {quote_ident(database)}.{quote_ident(plan.table)}",
            (),  # formatted as a parameterised statement: quote_ident doubles a %
        )
        low, high = cur.fetchone()
    if low is None or streams == 1:
        return [(None, None)]
    low, high = int(low), int(high)
    step = max(1, (high - low + 1) // streams)
    bounds = [low + i * step for i in range(streams)] + [high + 1]
    return [(bounds[i], bounds[i + 1]) for i in range(streams) if bounds[i] < bounds[i + 1]]


def _new_run(
    conn,
    config: SourceConfig,
    plan: TablePlan,
    database: str,
    state: TableState,
    full_refresh: bool,
) -> dict:
    tcfg = plan.config
    watermark = state.watermark()
    if tcfg.mode == "cdc":
        return _new_cdc_run(conn, plan, database, watermark, full_refresh)
    incremental = (
        tcfg.mode in ("incremental", "append")
        and not full_refresh
        and bool(watermark and watermark.get("high"))
    )
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    window: dict = {"low": None, "high": None}
    if tcfg.cursor:
        window["high"] = _server_window(
            conn, config.connection.cursor_time_zone, tcfg.safety_lag_seconds
        )
    if incremental:
        low = datetime.fromisoformat(watermark["high"]) - timedelta(seconds=tcfg.lookback_seconds)
        window["low"] = low.isoformat(sep=" ")
    ranges = _key_ranges(conn, database, plan, tcfg.streams if not incremental else 1)
    return {
        "run_id": run_id,
        "mode": tcfg.mode if incremental else "full",
        "window": window,
        "streams": [{"id": i, "low": lo, "high": hi} for i, (lo, hi) in enumerate(ranges)],
        "started_at": datetime.now(UTC).isoformat(),
        "previous_keys": watermark.get("keys") if watermark else None,
    }


def _new_cdc_run(
    conn, plan: TablePlan, database: str, watermark: dict | None, full_refresh: bool
) -> dict:
    """A cdc table's run: from its committed binlog position to the server's position now; the
    first run (or a full refresh, or a resnapshot after the position was lost) is a consistent
    snapshot whose position is taken before it starts (changes between the two are read again
    by the next run: each key ends at its latest row)."""
    end, server = binlog.current_position(conn), binlog.server_identity(conn)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    started = datetime.now(UTC).isoformat()
    committed = (watermark or {}).get("high")
    note = None
    if committed and not full_refresh:
        start = binlog.Position.of(committed)
        try:
            binlog.check_available(conn, start, server, watermark.get("server"))
        except binlog.BinlogLost as exc:
            if plan.config.on_binlog_loss != "resnapshot":
                raise binlog.BinlogLost(
                    f"table {plan.table!r}: {exc}: the changes since the last run can no longer "
                    "be read from the log. Copy the table afresh: set on_binlog_loss: "
                    "resnapshot for it (a full read of the table), or run once with "
                    "--full-refresh"
                ) from None
            note = f"resnapshot: {exc}"
        else:
            return {
                "run_id": run_id,
                "mode": "cdc",
                "window": {"low": start.as_dict(), "high": end.as_dict(), "server": server},
                "streams": [],
                "started_at": started,
                "previous_keys": None,
            }
    ranges = _key_ranges(conn, database, plan, plan.config.streams)
    return {
        "run_id": run_id,
        "mode": "full",
        "window": {"low": None, "high": end.as_dict(), "server": server},
        "streams": [{"id": i, "low": lo, "high": hi} for i, (lo, hi) in enumerate(ranges)],
        "started_at": started,
        "previous_keys": None,
        "note": note,
    }


CDC_KEYS_PER_QUERY = 5_000


def _cdc_changes(
    run: dict,
    plan: TablePlan,
    endpoint: Endpoint,
    database: str,
    lake: Lake,
    prefix: str,
    is_mariadb: bool,
) -> dict:
    """The run's changes, read from the binlog once and kept under the run (a resumed run reads
    the same keys, even if the log has been purged since)."""
    key = layout.cdc_changes_file(prefix)
    if lake.exists(key):
        return lake.get_json(key)
    window = run["window"]
    changes = binlog.read_changes(
        endpoint,
        database,
        plan.table,
        plan.primary_key,
        binlog.Position.of(window["low"]),
        binlog.Position.of(window["high"]),
        is_mariadb=is_mariadb,
    )
    document = {
        "upserts": [list(map(binlog.param_value, k)) for k in changes.upserts],
        "deletes": [list(map(binlog.param_value, k)) for k in changes.deletes],
        "events": changes.events,
        "last_event_at": changes.last_event_at,
    }
    lake.put_json(key, document)
    crash_point("extract.cdc_changes_read")
    return document


def _cdc_read(
    run: dict,
    plan: TablePlan,
    endpoint: Endpoint,
    database: str,
    lake: Lake,
    state: TableState,
    prefix: str,
    should_stop: Callable[[], bool] | None,
    on_rows: Callable[[int], None] | None,
) -> bool:
    """Read a cdc run's changed rows by key, one slice of keys after the other; returns whether
    it stopped early (the caller's deadline).

    A fresh run opens a consistent snapshot first and, on MariaDB, moves the window's end to
    the snapshot's own binlog position: the log is read up to exactly the state the rows are
    read in, so every transaction is in the run whole or not at all, and a transaction
    committed meanwhile is neither half-seen nor lost. A resumed run (its keys already read
    from the log) reads the slices not yet done in a new snapshot; their rows may then be newer
    than the window's end, which the next run, reading the log from that end, takes again."""
    is_mariadb = run.get("mariadb", True)
    if lake.exists(layout.cdc_changes_file(prefix)):
        changes = _cdc_changes(run, plan, endpoint, database, lake, prefix, is_mariadb)
        for task in _cdc_tasks(run, plan, endpoint, database, lake, prefix, changes):
            if run_stream(task, should_stop, on_rows).stopped:
                return True
        return False
    with connect(endpoint, database, streaming=True, conv=NO_DECODING) as conn:
        cur = conn.cursor()
        cur.execute("set transaction isolation level repeatable read")
        cur.execute("start transaction with consistent snapshot, read only")
        high = binlog.snapshot_position(cur) if is_mariadb else None
        if high is not None and high != binlog.Position.of(run["window"]["high"]):
            run["window"]["high"] = high.as_dict()
            state.start(run)  # the run's end is now the snapshot's position
        changes = _cdc_changes(run, plan, endpoint, database, lake, prefix, is_mariadb)
        for task in _cdc_tasks(run, plan, endpoint, database, lake, prefix, changes):
            if run_stream(task, should_stop, on_rows, conn=conn).stopped:
                return True  # the connection is closed: the rest waits for a resume
        cur.execute("commit")
    return False


class _Progress:
    """A run's committed chunks, from their markers: which streams are done, and where each
    other stream resumes."""

    def __init__(self, lake: Lake, prefix: str):
        self.markers = [
            lake.get_json(k) for k in lake.list(layout.chunk_markers_prefix(prefix), ".json")
        ]
        self.done = {m["stream"] for m in self.markers if "chunks" in m}

    def task(
        self,
        plan: TablePlan,
        endpoint: Endpoint,
        database: str,
        lake: Lake,
        prefix: str,
        stream: int,
        where: list[str],
        params: list,
        snapshot: bool,
    ) -> StreamTask:
        """The stream's task, after its last committed chunk if it has one."""
        mine = sorted(
            (m for m in self.markers if m.get("stream") == stream and "seq" in m),
            key=lambda m: m["seq"],
        )
        if mine:
            where = [*where, _after_key_sql(plan.primary_key)]
            params = [*params, *_after_key_params(mine[-1]["last_key"])]
        select_sql, select_params = row_json_sql(plan, database)
        return StreamTask(
            endpoint=endpoint,
            database=database,
            lake_uri=lake.uri,
            run_prefix=prefix,
            stream=stream,
            next_seq=(mine[-1]["seq"] + 1) if mine else 0,
            select_sql=select_sql,
            select_params=select_params,
            where=where,
            params=params,
            primary_key=plan.primary_key,
            patterns=zero_date_patterns(plan),
            chunk_rows=plan.config.chunk_rows,
            chunk_bytes=plan.config.chunk_bytes,
            snapshot=snapshot,
        )


def _cdc_tasks(
    run: dict, plan: TablePlan, endpoint: Endpoint, database: str, lake: Lake, prefix: str,
    changes: dict,
) -> list[StreamTask]:  # fmt: skip
    """One stream per slice of the upserted keys: their current rows, read by key."""
    progress = _Progress(lake, prefix)
    columns = "(" + ", ".join(quote_ident(k) for k in plan.primary_key) + ")"
    one = "(" + ", ".join(["%s"] * len(plan.primary_key)) + ")"
    keys = changes["upserts"]
    tasks = []
    for stream, i in enumerate(range(0, len(keys), CDC_KEYS_PER_QUERY)):
        if stream in progress.done:
            continue
        part = keys[i : i + CDC_KEYS_PER_QUERY]
        where = [f"{columns} in ({', '.join([one] * len(part))})"]
        params = [binlog.from_param(v) for k in part for v in k]
        tasks.append(
            progress.task(plan, endpoint, database, lake, prefix, stream, where, params, False)
        )
    return tasks


def _stream_tasks(
    run: dict, plan: TablePlan, endpoint: Endpoint, database: str, lake: Lake, prefix: str
) -> list[StreamTask]:
    progress = _Progress(lake, prefix)
    tasks = []
    for spec in run["streams"]:
        if spec["id"] in progress.done:
            continue
        where, params = [], []
        if run["mode"] in ("incremental", "append"):
            cursor = quote_ident(plan.cursor)
            where.append(f"{cursor} > %s and {cursor} <= %s")
            params += [run["window"]["low"], run["window"]["high"]]
        if spec["low"] is not None:
            pk = quote_ident(plan.primary_key[0])
            where.append(f"{pk} >= %s and {pk} < %s")
            params += [spec["low"], spec["high"]]
        tasks.append(
            progress.task(plan, endpoint, database, lake, prefix, spec["id"], where, params, True)
        )
    return tasks


Parallelism = Literal["processes", "threads"]
_STOP_EVENT = None  # in a stream worker process: set by the parent when the caller must stop


def _run_streams(
    tasks: list[StreamTask],
    should_stop: Callable[[], bool] | None,
    on_rows: Callable[[int], None] | None,
    parallel: Parallelism,
) -> bool:
    """Run the streams, each with its own connection, and return whether they stopped early
    (every finished chunk committed). The caller's deadline reaches every stream; a stream that
    fails stops the others at their next chunk, and its error is raised.

    ``processes`` (one per stream) is the fast way: each stream's Python work (reading the
    server's packets) runs on its own core. AWS Lambda cannot run a process pool (it has no
    shared memory), so there the streams are ``threads``, which overlap the server's work and
    the I/O but share one core for Python's."""
    if len(tasks) <= 1:
        return any(run_stream(task, should_stop, on_rows).stopped for task in tasks)
    if parallel == "processes":
        return _run_in_processes(tasks, should_stop, on_rows)
    failed = threading.Event()

    def stop() -> bool:
        return failed.is_set() or bool(should_stop and should_stop())

    def one(task: StreamTask) -> StreamResult:
        try:
            return run_stream(task, stop, on_rows)
        except BaseException:
            failed.set()
            raise

    with ThreadPoolExecutor(len(tasks), thread_name_prefix="stream") as pool:
        outcomes = [future.result() for future in [pool.submit(one, t) for t in tasks]]
    return any(outcome.stopped for outcome in outcomes)


def _worker_init(stop_event) -> None:
    global _STOP_EVENT
    _STOP_EVENT = stop_event


def _stream_in_worker(task: StreamTask) -> StreamResult:
    return run_stream(task, _STOP_EVENT.is_set)


def _run_in_processes(
    tasks: list[StreamTask],
    should_stop: Callable[[], bool] | None,
    on_rows: Callable[[int], None] | None,
    poll_seconds: float = 0.2,
) -> bool:
    """The streams in worker processes. This process watches the caller's deadline (and the
    workers' failures) and tells every worker to stop through one shared event; each worker
    looks at it after every committed chunk. Rows are reported as each stream ends."""
    context = get_context("spawn")
    stop = context.Event()
    with ProcessPoolExecutor(
        len(tasks), mp_context=context, initializer=_worker_init, initargs=(stop,)
    ) as pool:
        futures = [pool.submit(_stream_in_worker, task) for task in tasks]
        pending = set(futures)
        while pending:
            if should_stop and should_stop():
                stop.set()
            done, pending = wait(pending, timeout=poll_seconds, return_when=FIRST_COMPLETED)
            for future in done:
                if future.exception() is not None:
                    stop.set()  # the others stop at their next chunk; then the error is raised
                elif on_rows:
                    on_rows(future.result().rows)
    outcomes = [future.result() for future in futures]  # raises the first stream's error
    return any(outcome.stopped for outcome in outcomes)


def extract_table(
    config: SourceConfig,
    endpoint: Endpoint,
    lake: Lake,
    table: str,
    *,
    database: str | None = None,
    full_refresh: bool = False,
    should_stop: Callable[[], bool] | None = None,
    on_rows: Callable[[int], None] | None = None,
    parallel: Parallelism = "processes",
) -> ExtractResult:
    """Extract one table (resuming its unfinished run if there is one). ``should_stop`` is the
    caller's deadline: asked after each committed chunk, on every stream."""
    database = database or endpoint.database or config.database
    started = time.perf_counter()
    state = TableState(lake, config.name, table)
    plan, run, resumed = _open_run(config, endpoint, database, lake, state, table, full_refresh)
    prefix = layout.raw_run_prefix(config.name, table, run["run_id"])
    if run["mode"] == "cdc":
        stopped = _cdc_read(
            run, plan, endpoint, database, lake, state, prefix, should_stop, on_rows
        )
    else:
        tasks = _stream_tasks(run, plan, endpoint, database, lake, prefix)
        if plan.keyless and should_stop is not None:
            should_stop = _cannot_stop(table, should_stop)
        stopped = _run_streams(tasks, should_stop, on_rows, parallel)
    result = ExtractResult(
        table=table,
        run_id=run["run_id"],
        status="continue",
        manifest_key=None,
        mode=run["mode"],
        resumed=resumed,
        window=run["window"],
        note=run.get("note"),
    )
    if not stopped:
        manifest = _commit_run(config, endpoint, database, lake, state, plan, run, prefix)
        result = replace(
            result,
            status="committed",
            manifest_key=layout.manifest_key(prefix),
            rows=manifest.row_count,
            deletes=manifest.delete_count,
            files=len(manifest.files),
            bytes=sum(f["bytes"] for f in manifest.files),
            zero_dates=manifest.zero_dates,
            capture=manifest.capture,
        )
    return replace(result, seconds=time.perf_counter() - started)


def _cannot_stop(table: str, should_stop: Callable[[], bool]) -> Callable[[], bool]:
    """A keyless table's run cannot stop and resume later: at the caller's deadline it fails
    with what to do, rather than starting over at every continuation."""

    def check() -> bool:
        if should_stop():
            raise SourceError(
                f"table {table!r} has no primary key, so its copy cannot be continued in a "
                "later invocation, and it did not finish in this one: declare a primary_key "
                "(columns that identify a row) to make it resumable"
            )
        return False

    return check


def _open_run(
    config: SourceConfig,
    endpoint: Endpoint,
    database: str,
    lake: Lake,
    state: TableState,
    table: str,
    full_refresh: bool,
) -> tuple[TablePlan, dict, bool]:
    """The table's plan and the run to do: its unfinished one (resumed), or a new one."""
    with connect(endpoint, database) as conn:
        plan = plan_table(config, conn, database, table)
        run = state.inflight()
        if run is not None:
            prefix = layout.raw_run_prefix(config.name, table, run["run_id"])
            committed = layout.manifest_key(prefix)
            if lake.exists(committed):  # killed after its commit point
                state.finish(manifests.read_raw(lake, committed), committed)
                run = None
            elif full_refresh or plan.keyless:
                # a keyless table's rows have no order to resume from: its run starts over
                state.abandon(prefix)
                run = None
        resumed = run is not None
        if run is None:
            run = _new_run(conn, config, plan, database, state, full_refresh)
            run["mariadb"] = "mariadb" in conn.get_server_info().lower()
            state.start(run)
    return plan, run, resumed


def _commit_run(
    config: SourceConfig,
    endpoint: Endpoint,
    database: str,
    lake: Lake,
    state: TableState,
    plan: TablePlan,
    run: dict,
    prefix: str,
) -> manifests.RawManifest:
    """Every stream is done: detect deletes, then commit the run with its manifest (written
    last) and advance the watermark."""
    markers = sorted(
        (lake.get_json(k) for k in lake.list(layout.chunk_markers_prefix(prefix), ".json")),
        key=lambda m: (m["stream"], m.get("seq", 1 << 30)),
    )
    files = [m["file"] for m in markers if "file" in m]
    zeros: dict[str, int] = {}
    for m in markers:
        for column, count in m.get("zero_dates", {}).items():
            zeros[column] = zeros.get(column, 0) + count
    deletes, keys_key, capture = 0, None, None
    if run["mode"] == "cdc":
        changes = lake.get_json(layout.cdc_changes_file(prefix))
        delete_file = write_tombstones(
            lake, layout.raw_deletes_file(prefix), plan.primary_key,
            [[binlog.raw_value(v) for v in k] for k in changes["deletes"]],
        )  # fmt: skip
        if delete_file:
            files.append(delete_file)
            deletes = delete_file["rows"]
        capture = binlog.capture_summary(run["window"], changes)
    if plan.config.hard_deletes:
        keys_key = state.keys_file(run["run_id"])
        previous = run["previous_keys"] if run["mode"] == "incremental" else None
        deletes, delete_file = compare_keys(
            endpoint, database, plan, lake, previous, keys_key, layout.raw_deletes_file(prefix)
        )
        if delete_file:
            files.append(delete_file)
    manifest = manifests.RawManifest(
        source=config.name,
        database=database,
        table=plan.table,
        run_id=run["run_id"],
        mode=run["mode"],
        window=run["window"],
        extracted_at=run["started_at"],
        committed_at=datetime.now(UTC).isoformat(),
        primary_key=plan.primary_key,
        cursor=plan.cursor,
        soft_delete_column=plan.config.soft_delete_column,
        columns=[{**c.as_dict(), "types": map_column(c.as_dict()).as_dict()} for c in plan.columns],
        files=files,
        row_count=sum(f["rows"] for f in files if f["kind"] == "data"),
        delete_count=deletes,
        zero_dates=zeros,
        keys=keys_key,
        capture=capture,
    )
    manifest_key = layout.manifest_key(prefix)
    crash_point("extract.before_manifest")
    manifests.write(lake, manifest_key, manifest)  # the commit point: written last
    crash_point("extract.before_watermark")
    state.finish(manifest, manifest_key)
    return manifest
