"""One ordered stream of a table's rows into committed raw chunks.

Fast: the server serialises each row (``JSON_OBJECT``), so Python never converts a field; it
joins rows, turns zero dates into nulls with byte replacements (counting them per column) and
hands the buffer to a gzip thread (zlib releases the GIL).

Raw values: integers and floats as JSON numbers (BIGINT UNSIGNED exact), decimals as exact text,
dates ``YYYY-MM-DD``, datetimes ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (ISO 8601 with the space
separator RFC 3339 allows: the ``T`` would cost the server ~60 % more per row), TIME as MySQL's
text, BIT as its integer value, JSON as text, binary as base64, zero dates as null (counted).
"""

from __future__ import annotations

import hashlib
import json
import queue
import tempfile
import threading
import zlib
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from pymysql.converters import conversions

from ingestion.config.settings import Endpoint
from ingestion.contract.typemap import map_column
from ingestion.errors import SourceError
from ingestion.faults import crash_point
from ingestion.lake import layout
from ingestion.lake.storage import Lake, open_lake
from ingestion.source.mysql import SourceColumn, connect, quote_ident
from ingestion.source.plan import TablePlan

FETCH_ROWS = 10_000
# Encoders only (bound parameters); no decoders: the row arrives as one binary JSON value.
NO_DECODING = {k: v for k, v in conversions.items() if not isinstance(k, int)}


# ------------------------------------------------------------------ SQL
def _value_sql(column: SourceColumn) -> str:
    """SQL rendering the column's raw JSON value (``null`` when NULL).

    Built with CONCAT and JSON_QUOTE rather than JSON_OBJECT: half the server CPU per row, and
    compact output (measured on 1,000,000 rows: 3.4 s against 6.7 s).
    """
    raw = map_column(column.as_dict()).raw
    name = quote_ident(column.name)
    if raw == "int" and (column.data_type == "year" or "zerofill" in column.column_type):
        # the server renders these padded (00255, and 0000 for a YEAR holding 0): not JSON
        value = f"cast({name} as unsigned)"
    elif raw in ("int", "float", "bool"):
        value = name
    elif raw == "bits":
        value = f"cast({name} as unsigned)"
    elif raw == "ewkb":
        # the server's value is the SRID (4 bytes) then little-endian WKB: EWKB is the WKB's
        # byte order and type, the type's SRID flag (0x20 in its last byte), the SRID, the rest
        h = f"hex({name})"
        value = (
            f"concat('\"', substr({h}, 9, 2), substr({h}, 11, 6), '20', substr({h}, 1, 8), "
            f"substr({h}, 19), '\"')"
        )
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
    if plan.config.zero_dates == "reject":  # kept as they are, for the curate job to reject
        return patterns
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
    """One ordered stream over (part of) a table, with everything it needs to run on its own."""

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
    key = layout.raw_data_file(task.run_prefix, task.stream, seq)
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
    lake.put_json(layout.chunk_marker(task.run_prefix, task.stream, seq), marker)
    crash_point("extract.chunk_committed")


def run_stream(
    task: StreamTask,
    should_stop: Callable[[], bool] | None = None,
    on_rows: Callable[[int], None] | None = None,
    conn=None,
) -> StreamResult:
    """Stream rows in key order, committing a chunk every ``chunk_rows`` rows / bytes. ``conn``:
    a connection the caller opened (``stream_connection``) and keeps, e.g. to read several
    slices in one snapshot; it is closed here only if the stream stops or fails."""
    lake = open_lake(task.lake_uri)
    where = f" where {' and '.join(task.where)}" if task.where else ""
    order = ", ".join(quote_ident(k) for k in task.primary_key)
    sql = f"{task.select_sql}{where}" + (f" order by {order}" if order else "")
    result = StreamResult()
    with (
        tempfile.TemporaryDirectory(prefix="extract-") as tmp,
        nullcontext(conn) if conn is not None else stream_connection(task) as conn,
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
        layout.chunk_marker(task.run_prefix, task.stream, None),
        {"stream": task.stream, "chunks": task.next_seq + result.chunks},
    )
    return result


def stream_connection(task: StreamTask):
    """A connection for ``run_stream``: unbuffered, rows left undecoded."""
    return connect(task.endpoint, task.database, streaming=True, conv=NO_DECODING)


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
