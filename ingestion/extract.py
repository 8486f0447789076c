"""Extract: MySQL table -> raw zone (gzip JSON Lines chunks, then a manifest, written last).

How a run reads:

* **full** — the whole table inside one consistent snapshot (``START TRANSACTION WITH
  CONSISTENT SNAPSHOT``), one ordered stream per primary-key range (``streams``).
* **incremental** — rows with ``low < cursor <= high``: ``high`` is the server's clock at the
  run's start minus ``safety_lag_seconds``; ``low`` is the committed watermark minus
  ``lookback_seconds``. A table's first run is full. The watermark advances only after the run's
  manifest is committed.
* **hard deletes** — with ``hard_deletes``, each run compares the table's primary keys with the
  previous run's key list and writes delete records (tombstones) for keys that disappeared.

Restartable: every chunk (one file, capped by rows and bytes) is committed on its own with a
small marker under the run's prefix; a run killed at any point resumes at the first uncommitted
chunk of each stream, with the same window. Nothing of an unfinished run is visible to readers:
only the manifest commits it.

Fast: the server serialises each row (``JSON_OBJECT``), so Python never converts a field; it
joins rows, turns zero dates into nulls with byte replacements (counting them per column) and
hands the buffer to a gzip thread (zlib releases the GIL).

Raw values: integers and floats as JSON numbers (BIGINT UNSIGNED exact), decimals as exact text,
dates ``YYYY-MM-DD``, datetimes ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (ISO 8601 with the space
separator RFC 3339 allows: the ``T`` would cost the server ~60 % more per row), TIME as MySQL's
text, BIT as its integer value, JSON as text, binary as base64, zero dates as null (counted).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import queue
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

from pymysql.converters import conversions

from ingestion.config import SourceConfig, TableConfig
from ingestion.errors import ConfigError, SourceError
from ingestion.faults import crash_point
from ingestion.lake import Lake, open_lake
from ingestion.mysql_source import SourceColumn, connect, primary_key, quote_ident, table_columns
from ingestion.settings import Endpoint
from ingestion.typemap import map_column

RAW_FORMAT = "jlr.raw.v2"
FETCH_ROWS = 10_000
# Encoders only (bound parameters); no decoders: the row arrives as one binary JSON value.
NO_DECODING = {k: v for k, v in conversions.items() if not isinstance(k, int)}
INTEGER_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}
Key = tuple


def raw_prefix(source: str, table: str) -> str:
    return f"raw/{source}/{table}"


def state_prefix(source: str, table: str) -> str:
    return f"_state/{source}/{table}"


# ------------------------------------------------------------------ plan
@dataclass(frozen=True)
class TablePlan:
    """A configured table checked against the live information_schema."""

    table: str
    columns: list[SourceColumn]
    primary_key: list[str]
    config: TableConfig

    @property
    def cursor(self) -> str | None:
        return self.config.cursor

    def column(self, name: str) -> SourceColumn:
        return next(c for c in self.columns if c.name == name)


def plan_table(config: SourceConfig, conn, database: str, table: str) -> TablePlan:
    where = f"{config.path}: tables.{table}"
    columns = table_columns(conn, database, table)
    if not columns:
        raise ConfigError(f"{where}: table {table!r} does not exist in MySQL database {database!r}")
    names = {c.name for c in columns}
    tcfg = config.tables[table]
    pk = list(tcfg.primary_key) if tcfg.primary_key else primary_key(conn, database, table)
    if not pk:
        raise ConfigError(
            f"{where}.primary_key: the table has no PRIMARY KEY; declare the columns that "
            "identify a row"
        )
    for name in pk:
        if name not in names:
            raise ConfigError(f"{where}.primary_key: column {name!r} does not exist")
    for fieldname in ("cursor", "soft_delete_column", "partition_column", "dist_key"):
        value = getattr(tcfg, fieldname)
        if value and value not in names:
            raise ConfigError(f"{where}.{fieldname}: column {value!r} does not exist")
    for value in tcfg.sort_keys:
        if value not in names:
            raise ConfigError(f"{where}.sort_keys: column {value!r} does not exist")
    partition = tcfg.partition_column
    if partition and next(c for c in columns if c.name == partition).data_type not in (
        "date",
        "datetime",
        "timestamp",
    ):
        raise ConfigError(
            f"{where}.partition_column: {partition!r} is not a DATE, DATETIME or TIMESTAMP column"
        )
    if partition and f"{partition}_{tcfg.partition_granularity}" in names:
        raise ConfigError(
            f"{where}.partition_column: the partition key "
            f"{partition}_{tcfg.partition_granularity} is already a column"
        )
    for column in columns:
        map_column(column.as_dict())  # unsupported types fail here, before any data moves
    plan = TablePlan(table, columns, pk, tcfg)
    if tcfg.streams > 1 and (len(pk) != 1 or plan.column(pk[0]).data_type not in INTEGER_TYPES):
        raise ConfigError(f"{where}.streams: parallel streams need a single integer primary key")
    return plan


# ------------------------------------------------------------------ SQL
def _value_sql(column: SourceColumn) -> str:
    """SQL rendering the column's raw JSON value (``null`` when NULL).

    Built with CONCAT and JSON_QUOTE rather than JSON_OBJECT: half the server CPU per row, and
    compact output (measured on 1,000,000 rows: 3.4 s against 6.7 s).
    """
    raw = map_column(column.as_dict()).raw
    name = quote_ident(column.name)
    if raw in ("int", "float", "bool"):
        value = name
    elif raw == "bits":
        value = f"cast({name} as unsigned)"
    elif raw == "base64":
        value = f"concat('\"', replace(to_base64({name}), char(10), ''), '\"')"  # no wraps
    elif raw in ("date", "datetime", "time") or column.data_type == "decimal":
        value = f"concat('\"', {name}, '\"')"  # digits, dashes, colons: nothing to escape
    elif raw == "json" or (column.charset or "utf8mb4") != "utf8mb4":
        value = f"json_quote(cast({name} as char character set utf8mb4))"
    else:
        value = f"json_quote({name})"
    return f"ifnull({value}, 'null')"


def _json_key(plan: TablePlan, i: int) -> str:
    return ("{" if i == 0 else ",") + json.dumps(plan.columns[i].name) + ":"


def row_json_sql(plan: TablePlan, database: str) -> tuple[str, list[str]]:
    """One binary JSON object per row, and its parameters (the keys, bound, never inlined)."""
    parts, params = [], []
    for i, column in enumerate(plan.columns):
        parts += ["%s", _value_sql(column)]
        params.append(_json_key(plan, i))
    parts.append("'}'")
    sql = (
        f"select cast(concat({', '.join(parts)}) as binary) "
        f"from {quote_ident(database)}.{quote_ident(plan.table)}"
    )
    return sql, params


def _after_key_sql(pk: list[str]) -> str:
    """Rows strictly after a key, in key order (expanded so MariaDB uses the index)."""
    terms = []
    for i, name in enumerate(pk):
        equal = [f"{quote_ident(p)} = %s" for p in pk[:i]]
        terms.append("(" + " and ".join([*equal, f"{quote_ident(name)} > %s"]) + ")")
    return "(" + " or ".join(terms) + ")"


def _after_key_params(key: list) -> list:
    params = []
    for i in range(len(key)):
        params += [*key[:i], key[i]]
    return params


def zero_date_patterns(plan: TablePlan) -> list[tuple[str, bytes, bytes]]:
    """(column, exact raw text of its zero date, replacement) for date-like columns.

    The pattern starts at the key's own delimiter (``{`` or ``,``), and inside a JSON string
    every quote is escaped, so it can only match the column itself.
    """
    patterns = []
    for i, c in enumerate(plan.columns):
        if c.data_type not in ("date", "datetime", "timestamp"):
            continue
        zero = "0000-00-00"
        if c.data_type != "date":
            zero += " 00:00:00" + ("." + "0" * c.datetime_precision if c.datetime_precision else "")
        key = _json_key(plan, i)
        patterns.append((c.name, f'{key}"{zero}"'.encode(), f"{key}null".encode()))
    return patterns


# ------------------------------------------------------------------ chunk files
@dataclass
class ChunkFile:
    path: Path
    rows: int
    raw_bytes: int
    size: int
    sha256: str


class _GzipChunk:
    """A gzip file written by a background thread (compression overlaps the next fetch)."""

    def __init__(self, path: Path):
        self.path = path
        self.rows = self.raw_bytes = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._digest = hashlib.sha256()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip framing, fast level
            with self.path.open("wb") as out:
                while (block := self._queue.get()) is not None:
                    data = compressor.compress(block)
                    out.write(data)
                    self._digest.update(data)
                tail = compressor.flush()
                out.write(tail)
                self._digest.update(tail)
        except BaseException as exc:  # surfaced by close()
            self._error = exc
            while self._queue.get() is not None:
                pass

    def write(self, block: bytes, rows: int) -> None:
        self.rows += rows
        self.raw_bytes += len(block)
        self._queue.put(block)

    def close(self) -> ChunkFile:
        self._queue.put(None)
        self._thread.join()
        if self._error:
            raise SourceError(f"writing {self.path.name}: {self._error}") from None
        return ChunkFile(
            self.path, self.rows, self.raw_bytes, self.path.stat().st_size, self._digest.hexdigest()
        )


# ------------------------------------------------------------------ one stream
@dataclass
class StreamTask:
    """One ordered stream over (part of) a table; picklable for worker processes."""

    endpoint: Endpoint
    database: str
    lake_uri: str
    run_prefix: str
    stream: int
    next_seq: int
    select_sql: str
    select_params: list[str]
    where: list[str]
    params: list
    primary_key: list[str]
    patterns: list[tuple[str, bytes, bytes]]
    chunk_rows: int
    chunk_bytes: int
    snapshot: bool


@dataclass
class StreamResult:
    rows: int = 0
    chunks: int = 0
    stopped: bool = False


def _commit_chunk(
    lake: Lake, task: StreamTask, chunk: ChunkFile, seq: int, last_key: list, zeros: dict[str, int]
) -> None:
    key = f"{task.run_prefix}/part-s{task.stream:02d}-{seq:06d}.jsonl.gz"
    lake.put_file(key, chunk.path)
    marker = {
        "stream": task.stream,
        "seq": seq,
        "last_key": last_key,
        "zero_dates": zeros,
        "file": {
            "key": key,
            "rows": chunk.rows,
            "bytes": chunk.size,
            "raw_bytes": chunk.raw_bytes,
            "sha256": chunk.sha256,
            "kind": "data",
        },
    }
    lake.put_json(f"{task.run_prefix}/_chunks/s{task.stream:02d}-{seq:06d}.json", marker)
    crash_point("extract.chunk_committed")


def run_stream(
    task: StreamTask,
    should_stop: Callable[[], bool] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> StreamResult:
    """Stream rows in key order, committing a chunk every ``chunk_rows`` rows / bytes."""
    lake = open_lake(task.lake_uri)
    where = f" where {' and '.join(task.where)}" if task.where else ""
    order = ", ".join(quote_ident(k) for k in task.primary_key)
    sql = f"{task.select_sql}{where} order by {order}"
    result = StreamResult()
    with (
        tempfile.TemporaryDirectory(prefix="extract-") as tmp,
        connect(task.endpoint, task.database, streaming=True, conv=NO_DECODING) as conn,
    ):
        cur = conn.cursor()
        if task.snapshot:
            cur.execute("set transaction isolation level repeatable read")
            cur.execute("start transaction with consistent snapshot, read only")
        cur.execute(sql, [*task.select_params, *task.params])
        try:
            _stream_chunks(task, lake, cur, Path(tmp), should_stop, on_rows, result)
        except BaseException:
            _abandon_stream(cur, conn)
            raise
        if result.stopped:
            _abandon_stream(cur, conn)
            return result
        if task.snapshot:
            cur.execute("commit")
    lake.put_json(
        f"{task.run_prefix}/_chunks/s{task.stream:02d}-done.json",
        {"stream": task.stream, "chunks": task.next_seq + result.chunks},
    )
    return result


def _abandon_stream(cur, conn) -> None:
    """Drop the rest of a streaming result unread and close the connection. pymysql has no
    public call for this: without the flag its cursor would later try to drain the closed
    socket."""
    if cur._result is not None:
        cur._result.unbuffered_active = False
    conn.close()


def _stream_chunks(
    task: StreamTask,
    lake: Lake,
    cur,
    tmp: Path,
    should_stop: Callable[[], bool] | None,
    on_rows: Callable[[int], None] | None,
    result: StreamResult,
) -> bool:
    """The fetch loop; sets ``result.stopped`` when it stops early (``should_stop``), with
    every chunk committed."""
    seq, chunk, zeros, last_line = task.next_seq, None, {}, b""
    try:
        while True:
            if chunk is None:
                chunk, zeros = _GzipChunk(tmp / f"chunk-{seq}.gz"), {}
            rows = cur.fetchmany(min(FETCH_ROWS, task.chunk_rows - chunk.rows))
            if rows:
                lines = [r[0] for r in rows]
                block = b"\n".join(lines) + b"\n"
                for column, pattern, null in task.patterns:
                    if found := block.count(pattern):
                        zeros[column] = zeros.get(column, 0) + found
                        block = block.replace(pattern, null)
                chunk.write(block, len(rows))
                last_line = lines[-1]
                if on_rows:
                    on_rows(len(rows))
            full = chunk.rows >= task.chunk_rows or chunk.raw_bytes >= task.chunk_bytes
            if chunk.rows and (full or not rows):
                record = json.loads(last_line)
                finished, chunk = chunk.close(), None
                _commit_chunk(
                    lake, task, finished, seq, [record[k] for k in task.primary_key], zeros
                )
                result.rows += finished.rows
                result.chunks += 1
                seq += 1
                if rows and should_stop and should_stop():
                    result.stopped = True
                    return
            if not rows:
                return
    finally:
        if chunk is not None:
            chunk.close()  # ends its writer thread; an uncommitted chunk file is just dropped


# ------------------------------------------------------------------ primary-key comparison
def _key_order_sql(plan: TablePlan) -> list[str]:
    """ORDER BY terms whose order equals Python's order of the decoded keys."""
    terms = []
    for name in plan.primary_key:
        column = plan.column(name)
        numeric = column.data_type in INTEGER_TYPES or column.data_type == "decimal"
        terms.append(quote_ident(name) if numeric else f"cast({quote_ident(name)} as binary)")
    return terms


def _source_keys(endpoint: Endpoint, database: str, plan: TablePlan) -> Iterator[Key]:
    select = ", ".join(_key_order_sql(plan))
    sql = (
        f"select {select} from {quote_ident(database)}.{quote_ident(plan.table)} order by {select}"
    )
    with connect(endpoint, database, streaming=True) as conn, conn.cursor() as cur:
        cur.execute(sql)
        while rows := cur.fetchmany(FETCH_ROWS):
            yield from (tuple(rows_) for rows_ in rows)


def _encode_key(key: Key) -> list:
    return [v.decode("utf-8") if isinstance(v, bytes) else v for v in key]


def _decode_key(values: list, binary: list[bool]) -> Key:
    return tuple(
        v.encode("utf-8") if b and isinstance(v, str) else v
        for v, b in zip(values, binary, strict=True)
    )


def _read_keys(lake: Lake, key: str, binary: list[bool]) -> Iterator[Key]:
    with gzip.open(lake.open(key), "rt", encoding="utf-8") as handle:
        for line in handle:
            yield _decode_key(json.loads(line), binary)


def compare_keys(
    endpoint: Endpoint,
    database: str,
    plan: TablePlan,
    lake: Lake,
    previous: str | None,
    keys_key: str,
    deletes_key: str,
) -> tuple[int, dict | None]:
    """Write the table's current key list and tombstones for keys that disappeared.

    Both lists are in the same order (numbers numerically, strings by their bytes), so a
    streaming merge finds the deletes with flat memory whatever the table size.
    """
    binary = [t.startswith("cast") for t in _key_order_sql(plan)]
    old = _read_keys(lake, previous, binary) if previous else iter(())
    deleted = 0
    with tempfile.TemporaryDirectory(prefix="keys-") as tmp:
        keys_path, deletes_path = Path(tmp) / "keys.gz", Path(tmp) / "deletes.gz"
        with (
            gzip.open(keys_path, "wt", encoding="utf-8", compresslevel=1) as keys_out,
            gzip.open(deletes_path, "wt", encoding="utf-8", compresslevel=1) as dels,
        ):

            def tombstone(key: Key) -> None:
                nonlocal deleted
                record = dict(zip(plan.primary_key, _encode_key(key), strict=True))
                dels.write(json.dumps(record) + "\n")
                deleted += 1

            pending = next(old, None)
            for current in _source_keys(endpoint, database, plan):
                keys_out.write(json.dumps(_encode_key(current)) + "\n")
                while pending is not None and pending < current:
                    tombstone(pending)
                    pending = next(old, None)
                if pending == current:
                    pending = next(old, None)
            while pending is not None:  # keys after the source's last one
                tombstone(pending)
                pending = next(old, None)
        lake.put_file(keys_key, keys_path)
        if not deleted or previous is None:
            return 0, None
        digest = hashlib.sha256(deletes_path.read_bytes()).hexdigest()
        size = deletes_path.stat().st_size
        lake.put_file(deletes_key, deletes_path)
        return deleted, {
            "key": deletes_key,
            "rows": deleted,
            "bytes": size,
            "sha256": digest,
            "kind": "delete",
        }


# ------------------------------------------------------------------ state
class TableState:
    """Watermark, in-flight run and key list of one table, kept in the lake."""

    def __init__(self, lake: Lake, source: str, table: str):
        self.lake, self.prefix = lake, state_prefix(source, table)

    def _get(self, name: str) -> dict | None:
        key = f"{self.prefix}/{name}.json"
        return self.lake.get_json(key) if self.lake.exists(key) else None

    def watermark(self) -> dict | None:
        return self._get("watermark")

    def inflight(self) -> dict | None:
        return self._get("inflight")

    def start(self, run: dict) -> None:
        self.lake.put_json(f"{self.prefix}/inflight.json", run)

    def finish(self, manifest: dict, manifest_key: str) -> None:
        """After the manifest is committed: advance the watermark, forget the in-flight run."""
        self.lake.put_json(
            f"{self.prefix}/watermark.json",
            {
                "run_id": manifest["run_id"],
                "high": manifest["window"]["high"],
                "manifest": manifest_key,
                "keys": manifest.get("keys"),
            },
        )
        self.lake.delete(f"{self.prefix}/inflight.json")

    def abandon(self, run_prefix: str) -> None:
        """Drop an unfinished run (a full refresh replaces it); nothing of it was visible."""
        self.lake.delete_prefix(run_prefix)
        self.lake.delete(f"{self.prefix}/inflight.json")


# ------------------------------------------------------------------ a table's run
@dataclass
class ExtractResult:
    table: str
    run_id: str
    status: str  # committed | continue (stopped early, resumable)
    manifest_key: str | None
    mode: str
    rows: int
    deletes: int
    files: int
    bytes: int
    seconds: float
    resumed: bool = False
    window: dict = field(default_factory=dict)
    zero_dates: dict[str, int] = field(default_factory=dict)


def _server_window(conn, tz: str, lag: int) -> str:
    with conn.cursor() as cur:
        cur.execute(
            "select date_sub(convert_tz(utc_timestamp(6), '+00:00', %s), interval %s second)",
            (tz, lag),
        )
        return str(cur.fetchone()[0])


def _key_ranges(conn, database: str, plan: TablePlan, streams: int) -> list[tuple]:
    pk = quote_ident(plan.primary_key[0])
    with conn.cursor() as cur:
        cur.execute(
            f"select min({pk}), max({pk}) from {quote_ident(database)}.{quote_ident(plan.table)}"
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
    incremental = (
        tcfg.mode == "incremental"
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
        "mode": "incremental" if incremental else "full",
        "window": window,
        "streams": [{"id": i, "low": lo, "high": hi} for i, (lo, hi) in enumerate(ranges)],
        "started_at": datetime.now(UTC).isoformat(),
        "previous_keys": watermark.get("keys") if watermark else None,
    }


def _stream_tasks(
    run: dict, plan: TablePlan, endpoint: Endpoint, database: str, lake: Lake, prefix: str
) -> list[StreamTask]:
    markers = [lake.get_json(k) for k in lake.list(f"{prefix}/_chunks/", ".json")]
    done = {m["stream"] for m in markers if "chunks" in m}
    select_sql, select_params = row_json_sql(plan, database)
    tasks = []
    for spec in run["streams"]:
        if spec["id"] in done:
            continue
        mine = sorted(
            (m for m in markers if m.get("stream") == spec["id"] and "seq" in m),
            key=lambda m: m["seq"],
        )
        where, params = [], []
        if run["mode"] == "incremental":
            cursor = quote_ident(plan.cursor)
            where.append(f"{cursor} > %s and {cursor} <= %s")
            params += [run["window"]["low"], run["window"]["high"]]
        if spec["low"] is not None:
            pk = quote_ident(plan.primary_key[0])
            where.append(f"{pk} >= %s and {pk} < %s")
            params += [spec["low"], spec["high"]]
        if mine:
            where.append(_after_key_sql(plan.primary_key))
            params += _after_key_params(mine[-1]["last_key"])
        tasks.append(
            StreamTask(
                endpoint=endpoint,
                database=database,
                lake_uri=lake.uri,
                run_prefix=prefix,
                stream=spec["id"],
                next_seq=(mine[-1]["seq"] + 1) if mine else 0,
                select_sql=select_sql,
                select_params=select_params,
                where=where,
                params=params,
                primary_key=plan.primary_key,
                patterns=zero_date_patterns(plan),
                chunk_rows=plan.config.chunk_rows,
                chunk_bytes=plan.config.chunk_bytes,
                snapshot=True,
            )
        )
    return tasks


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
) -> ExtractResult:
    """Extract one table (resuming its unfinished run if there is one)."""
    database = database or endpoint.database or config.database
    started = time.perf_counter()
    state = TableState(lake, config.name, table)
    with connect(endpoint, database) as conn:
        plan = plan_table(config, conn, database, table)
        run = state.inflight()
        if run is not None:
            prefix = f"{raw_prefix(config.name, table)}/run={run['run_id']}"
            if lake.exists(f"{prefix}/_manifest.json"):  # killed after its commit point
                state.finish(lake.get_json(f"{prefix}/_manifest.json"), f"{prefix}/_manifest.json")
                run = None
            elif full_refresh:
                state.abandon(prefix)
                run = None
        resumed = run is not None
        if run is None:
            run = _new_run(conn, config, plan, database, state, full_refresh)
            state.start(run)
    prefix = f"{raw_prefix(config.name, table)}/run={run['run_id']}"

    tasks = _stream_tasks(run, plan, endpoint, database, lake, prefix)
    if len(tasks) > 1:
        with ProcessPoolExecutor(len(tasks), mp_context=get_context("spawn")) as pool:
            list(pool.map(run_stream, tasks))
    elif tasks:
        outcome = run_stream(tasks[0], should_stop, on_rows)
        if outcome.stopped:
            return ExtractResult(
                table,
                run["run_id"],
                "continue",
                None,
                run["mode"],
                0,
                0,
                0,
                0,
                time.perf_counter() - started,
                resumed,
                run["window"],
            )

    markers = sorted(
        (lake.get_json(k) for k in lake.list(f"{prefix}/_chunks/", ".json")),
        key=lambda m: (m["stream"], m.get("seq", 1 << 30)),
    )
    files = [m["file"] for m in markers if "file" in m]
    zeros: dict[str, int] = {}
    for m in markers:
        for column, count in m.get("zero_dates", {}).items():
            zeros[column] = zeros.get(column, 0) + count
    deletes, keys_key = 0, None
    if plan.config.hard_deletes:
        keys_key = f"{state.prefix}/keys/{run['run_id']}.jsonl.gz"
        previous = run["previous_keys"] if run["mode"] == "incremental" else None
        deletes, delete_file = compare_keys(
            endpoint, database, plan, lake, previous, keys_key, f"{prefix}/deletes-000000.jsonl.gz"
        )
        if delete_file:
            files.append(delete_file)
    rows = sum(f["rows"] for f in files if f["kind"] == "data")
    manifest = {
        "format": RAW_FORMAT,
        "source": config.name,
        "database": database,
        "table": table,
        "run_id": run["run_id"],
        "mode": run["mode"],
        "window": run["window"],
        "extracted_at": run["started_at"],
        "committed_at": datetime.now(UTC).isoformat(),
        "primary_key": plan.primary_key,
        "cursor": plan.cursor,
        "soft_delete_column": plan.config.soft_delete_column,
        "columns": [
            {**c.as_dict(), "types": map_column(c.as_dict()).as_dict()} for c in plan.columns
        ],
        "files": files,
        "row_count": rows,
        "delete_count": deletes,
        "zero_dates": zeros,
        "keys": keys_key,
    }
    manifest_key = f"{prefix}/_manifest.json"
    crash_point("extract.before_manifest")
    lake.put_json(manifest_key, manifest)  # the commit point: written last
    crash_point("extract.before_watermark")
    state.finish(manifest, manifest_key)
    return ExtractResult(
        table,
        run["run_id"],
        "committed",
        manifest_key,
        run["mode"],
        rows,
        deletes,
        len(files),
        sum(f["bytes"] for f in files),
        time.perf_counter() - started,
        resumed,
        run["window"],
        zeros,
    )


def committed_manifests(lake: Lake, source: str, table: str) -> list[str]:
    """Raw manifests of a table, oldest first (run ids sort by time)."""
    return lake.list(raw_prefix(source, table) + "/", "_manifest.json")
