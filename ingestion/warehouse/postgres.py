"""The warehouse boundary, PostgreSQL backend (the local stand-in for Redshift).

One curated batch per transaction, under a per-table advisory lock: the audit check, the bulk load
(``COPY ... FROM STDIN``, fed from the curated Parquet by pyarrow record batches rendered as CSV,
never row-by-row inserts), the apply and the ``ops.load_audit`` row. A full batch truncates the
table and copies straight into it (``FREEZE``: no second pass over the rows); an incremental batch
is copied into a temporary table and merged by primary key, and the keys it deletes are recorded
in ``ops.deleted_keys``; an append batch is copied into a temporary table and inserted as it is.

Staging tables carry two indexes, PostgreSQL's counterpart of Redshift's sort keys: a unique one
on the primary key (the merge and the models' lookups by key; none for a keyless table) and one
on ``_loaded_at`` (what dbt reads to find the rows changed since its last run). A full batch
drops them, copies, and builds them again, which is faster than maintaining them row by row.
"""

from __future__ import annotations

import io
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql

from ingestion.config.settings import Endpoint
from ingestion.contract.names import warehouse_name
from ingestion.errors import LoadError
from ingestion.faults import crash_point
from ingestion.lake.manifests import CuratedManifest
from ingestion.lake.storage import Lake, LocalLake
from ingestion.warehouse.interface import (
    AUDIT_COLUMNS,
    DELETED_KEY_COLUMNS,
    DELETED_KEY_SEPARATOR,
    LOADED_AT,
    LoadResult,
    PendingBatch,
    capture_columns,
    is_not_null,
    schema_changes,
)


def _column_defs(columns: list[tuple[str, str, str]], extra: dict[str, str]) -> sql.Composable:
    """``name type [extra]`` for each (name, PostgreSQL type, Redshift type)."""
    return sql.SQL(", ").join(
        sql.SQL("{} {}{}").format(sql.Identifier(name), sql.SQL(pg), sql.SQL(extra.get(name, "")))
        for name, pg, _ in columns
    )


AUDIT_DDL = sql.SQL(
    "create schema if not exists ops; create table if not exists ops.load_audit ({}); {}; "
    "create table if not exists ops.deleted_keys ({}); "
    "create index if not exists deleted_keys__by_table on ops.deleted_keys "
    "(source, table_name, deleted_at)"
).format(
    _column_defs(AUDIT_COLUMNS, {"manifest_key": " primary key"}),
    # tables created by an earlier version gain the newer columns
    sql.SQL("; ").join(
        sql.SQL("alter table ops.load_audit add column if not exists {} {}").format(
            sql.Identifier(name), sql.SQL(pg)
        )
        for name, pg, _ in AUDIT_COLUMNS
    ),
    _column_defs(
        DELETED_KEY_COLUMNS,
        {name: " not null" for name, _, _ in DELETED_KEY_COLUMNS}
        | {"deleted_at": " not null default now()"},
    ),
)


@contextmanager
def pg_connect(endpoint: Endpoint) -> Iterator[psycopg.Connection]:
    try:
        conn = psycopg.connect(
            host=endpoint.host,
            port=endpoint.port,
            user=endpoint.user,
            password=endpoint.password,
            dbname=endpoint.database,
            connect_timeout=10,
            application_name="jlr-load",
            autocommit=True,
        )  # each transaction() block is a real one
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown error"
        raise LoadError(
            f"cannot connect to PostgreSQL {endpoint.user}@{endpoint.host}:"
            f"{endpoint.port}/{endpoint.database}: {reason}"
        ) from None
    try:
        yield conn
    finally:
        conn.close()


def _one_line(exc: psycopg.Error) -> str:
    diag = exc.diag
    parts = (
        diag.message_primary,
        diag.message_detail,
        diag.context and diag.context.splitlines()[0],
    )
    return "; ".join(p for p in parts if p) or str(exc).strip()


def _csv_ready(table: pa.Table) -> pa.Table:
    """Binary columns as PostgreSQL bytea hex text; everything else pyarrow writes as is."""
    for i, field in enumerate(table.schema):
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            hexed = pa.array(
                [None if v is None else "\\x" + v.hex() for v in table.column(i).to_pylist()],
                pa.string(),
            )
            table = table.set_column(i, field.name, hexed)
    return table


def _parquet(lake: Lake, key: str) -> pq.ParquetFile:
    if isinstance(lake, LocalLake):
        return pq.ParquetFile(lake.path(key))
    return pq.ParquetFile(io.BytesIO(lake.get_bytes(key)))  # curated files are capped in rows


def _csv_chunks(
    lake: Lake, files: list[dict], names: list[str], live_only: bool, counts: list[int]
) -> Iterator[memoryview]:
    """The files' rows as CSV buffers; counts[0] += rows read, counts[1] += rows left out."""
    for f in files:
        for batch in _parquet(lake, f["key"]).iter_batches(batch_size=65_536, columns=names):
            chunk = pa.Table.from_batches([batch])
            counts[0] += chunk.num_rows
            if live_only:
                chunk = chunk.filter(pc.invert(pc.fill_null(chunk.column("_is_deleted"), False)))
                counts[1] += batch.num_rows - chunk.num_rows
            buffer = io.BytesIO()
            pacsv.write_csv(_csv_ready(chunk), buffer, pacsv.WriteOptions(include_header=False))
            yield buffer.getbuffer()


def _copy_parquet(
    cur: psycopg.Cursor,
    lake: Lake,
    files: list[dict],
    into: sql.Composable,
    names: list[str],
    *,
    live_only: bool = False,
) -> tuple[int, int]:
    """COPY the files' rows into ``into``; returns (rows read, rows left out as deletions).

    Parquet is decoded and rendered as CSV in a second thread (pyarrow releases the GIL), so
    the conversion overlaps the server's parsing instead of alternating with it.

    ``live_only``: rows flagged ``_is_deleted`` are counted but not sent (a full batch replaces
    the table, so a deletion has nothing to remove), and the table, truncated in this
    transaction, is loaded FREEZE.
    """
    columns = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    options = sql.SQL("format csv, freeze true" if live_only else "format csv")
    counts = [0, 0]
    buffers: queue.Queue = queue.Queue(maxsize=4)
    done, stop = object(), threading.Event()

    def produce() -> None:
        try:
            for buffer in _csv_chunks(lake, files, names, live_only, counts):
                if stop.is_set():
                    return
                buffers.put(buffer)
            buffers.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            buffers.put(exc)

    producer = threading.Thread(target=produce, name="parquet-to-csv", daemon=True)
    producer.start()
    try:
        with cur.copy(
            sql.SQL("copy {} ({}) from stdin ({})").format(into, columns, options)
        ) as copy:
            while (item := buffers.get()) is not done:
                if isinstance(item, BaseException):
                    raise item
                copy.write(item)
    finally:
        stop.set()
        while producer.is_alive():  # unblock a producer waiting on a full queue
            with suppress(queue.Empty):
                buffers.get(timeout=0.1)
    return counts[0], counts[1]


def existing_columns(cur: psycopg.Cursor, schema: str, table: str) -> dict[str, str]:
    cur.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
        "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped "
        "order by a.attnum",
        (schema, table),
    )
    return dict(cur.fetchall())


def ensure_staging_table(
    cur: psycopg.Cursor, schema: str, table: str, columns: list[dict], primary_key: list[str]
) -> None:
    """Create the staging table from the batch's contract, or evolve it by the schema policy
    (``ingestion.warehouse.interface``); a change the policy refuses raises before anything is
    altered."""
    cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    if any(c["postgres"] == "geometry" for c in columns):  # spatial columns: PostGIS
        cur.execute("create extension if not exists postgis")
    existing = existing_columns(cur, schema, table)
    target = sql.Identifier(schema, table)
    if not existing:
        defs = [
            sql.SQL("{} {}{}").format(
                sql.Identifier(c["name"]),
                sql.SQL(c["postgres"]),
                sql.SQL(" not null" if is_not_null(c, primary_key) else ""),
            )
            for c in columns
        ]
        defs.append(
            sql.SQL("{} timestamptz not null default now()").format(sql.Identifier(LOADED_AT))
        )
        cur.execute(sql.SQL("create table {} ({})").format(target, sql.SQL(", ").join(defs)))
        return
    for change in schema_changes(f"{schema}.{table}", existing, columns, "postgres"):
        column = sql.Identifier(change.column["name"])
        new_type = sql.SQL(change.column["postgres"])
        if change.kind == "add":
            cur.execute(sql.SQL("alter table {} add column {} {}").format(target, column, new_type))
        else:
            cur.execute(
                sql.SQL("alter table {} alter column {} type {}").format(target, column, new_type)
            )


def staging_indexes(
    schema: str, table: str, primary_key: list[str]
) -> list[tuple[sql.Composable, sql.Composable]]:
    """(drop, create) of each staging index: unique on the primary key, and on _loaded_at."""
    target = sql.Identifier(schema, table)
    wanted = [("pk", "unique ", primary_key)] if primary_key else []  # a keyless table: none
    wanted.append(("loaded_at", "", [LOADED_AT]))
    return [
        (
            sql.SQL("drop index if exists {}").format(sql.Identifier(schema, f"{table}__{name}")),
            sql.SQL("create {}index if not exists {} on {} ({})").format(
                sql.SQL(unique),
                sql.Identifier(f"{table}__{name}"),
                target,
                sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            ),
        )
        for name, unique, columns in wanted
    ]


def key_text(primary_key: list[str], alias: str) -> sql.Composable:
    """The key as ops.deleted_keys holds it: the value as text, composite keys joined."""
    parts = [
        sql.SQL("cast({}.{} as text)").format(sql.Identifier(alias), sql.Identifier(k))
        for k in primary_key
    ]
    if len(parts) == 1:
        return parts[0]
    return sql.SQL("concat_ws({}, {})").format(
        sql.Literal(DELETED_KEY_SEPARATOR), sql.SQL(", ").join(parts)
    )


class PostgresWarehouse:
    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self._conn: psycopg.Connection | None = None

    def __enter__(self) -> PostgresWarehouse:
        self._stack = pg_connect(self.endpoint)
        self._conn = self._stack.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._stack.__exit__(*exc)
        self._conn = None

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None:
            raise RuntimeError("use PostgresWarehouse as a context manager")
        return self._conn

    def prepare(self) -> None:
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute("select pg_advisory_xact_lock(hashtextextended('jlr-load:audit', 0))")
                cur.execute(AUDIT_DDL)
        except psycopg.Error as exc:
            raise LoadError(f"cannot prepare ops.load_audit: {_one_line(exc)}") from None

    def audited_manifests(self, source: str, table: str) -> set[str]:
        try:
            rows = self.conn.execute(
                "select manifest_key from ops.load_audit where source = %s and table_name = %s",
                (source, warehouse_name(table)),
            ).fetchall()
        except psycopg.Error as exc:
            raise LoadError(f"cannot read ops.load_audit: {_one_line(exc)}") from None
        return {r[0] for r in rows}

    def load_batch(self, lake: Lake, schema: str, batch: PendingBatch) -> LoadResult:
        try:
            result = self._load_batch(lake, schema, batch.key, batch.manifest, batch.superseded)
            crash_point("load.after_commit")
            return result
        except psycopg.Error as exc:
            raise LoadError(
                f"loading {batch.key} into schema {schema} failed and was rolled back: "
                f"{_one_line(exc)}"
            ) from None

    def _load_batch(
        self, lake: Lake, schema: str, key: str, manifest: CuratedManifest, superseded: bool
    ) -> LoadResult:
        started_wall, started = time.time(), time.perf_counter()
        # LoadResult names the source table; staging is its warehouse name (contract.names)
        source_table, batch_id = manifest.table, manifest.batch_id
        table = warehouse_name(source_table)
        target = sql.Identifier(schema, table)
        names = [c["name"] for c in manifest.columns]
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                "select pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"jlr-load:{schema}.{table}",),
            )
            cur.execute("select 1 from ops.load_audit where manifest_key = %s", (key,))
            if cur.fetchone():
                return LoadResult(source_table, batch_id, key, "skipped", 0, 0, 0.0)
            if superseded:
                self._audit(cur, key, manifest, "superseded", 0, 0, 0, started_wall)
                return LoadResult(source_table, batch_id, key, "superseded", 0, 0, 0.0)
            primary_key = manifest.primary_key
            ensure_staging_table(cur, schema, table, manifest.columns, primary_key)
            indexes = staging_indexes(schema, table, primary_key)
            if manifest.mode == "full":
                cur.execute(sql.SQL("select count(*) from {}").format(target))
                deleted = cur.fetchone()[0]  # TRUNCATE reports no row count
                cur.execute(sql.SQL("truncate {}").format(target))
                for drop, _ in indexes:
                    cur.execute(drop)
                copied, tombstoned = _copy_parquet(
                    cur, lake, manifest.files, target, names, live_only=True
                )
                self._check_copied(manifest, copied)
                for _, create in indexes:
                    cur.execute(create)
            else:
                for _, create in indexes:  # tables made by an earlier version gain them
                    cur.execute(create)
                temp = sql.Identifier(f"_batch_{table}")
                cur.execute(
                    # same columns and types as the batch, no NOT NULL: tombstones carry only keys
                    sql.SQL(
                        "create temp table {} on commit drop as select {} from {} with no data"
                    ).format(temp, sql.SQL(", ").join(sql.Identifier(n) for n in names), target)
                )
                copied, _ = _copy_parquet(cur, lake, manifest.files, temp, names)
                self._check_copied(manifest, copied)
                deleted = 0
                if manifest.mode != "append":  # append: inserted as they are, no merge
                    deleted = self._merge_deletions(cur, target, temp, manifest, key)
                cols = sql.SQL(", ").join(sql.Identifier(n) for n in names)
                cur.execute(
                    sql.SQL("insert into {} ({}) select {} from {} where not {}").format(
                        target, cols, cols, temp, sql.Identifier("_is_deleted")
                    )
                )
                tombstoned = copied - cur.rowcount
            loaded = copied - tombstoned
            crash_point("load.before_commit")
            self._audit(cur, key, manifest, "loaded", loaded, deleted, tombstoned, started_wall)
        seconds = time.perf_counter() - started
        return LoadResult(
            source_table, batch_id, key, "loaded", loaded, deleted, seconds, tombstoned
        )

    @staticmethod
    def _merge_deletions(
        cur: psycopg.Cursor,
        target: sql.Composable,
        temp: sql.Composable,
        manifest: CuratedManifest,
        key: str,
    ) -> int:
        """Record the batch's tombstones in ops.deleted_keys and delete every row whose key
        the batch carries (its new versions are inserted next); returns the rows deleted."""
        primary_key = manifest.primary_key
        cur.execute(
            sql.SQL(
                "insert into ops.deleted_keys (source, table_name, key_value, batch_id, "
                "manifest_key) select %s, %s, {}, %s, %s from {} b where b.{}"
            ).format(key_text(primary_key, "b"), temp, sql.Identifier("_is_deleted")),
            (manifest.source, warehouse_name(manifest.table), manifest.batch_id, key),
        )
        pk = sql.SQL(" and ").join(
            sql.SQL("t.{0} = b.{0}").format(sql.Identifier(k)) for k in primary_key
        )
        cur.execute(sql.SQL("delete from {} t using {} b where {}").format(target, temp, pk))
        return cur.rowcount

    @staticmethod
    def _check_copied(manifest: CuratedManifest, copied: int) -> None:
        if copied != manifest.counts.curated:
            raise LoadError(
                f"{manifest.table} batch {manifest.batch_id}: copied {copied} rows but the "
                f"curated manifest holds {manifest.counts.curated}"
            )

    @staticmethod
    def _audit(
        cur: psycopg.Cursor,
        key: str,
        manifest: CuratedManifest,
        status: str,
        loaded: int,
        deleted: int,
        tombstoned: int,
        started: float,
    ) -> None:
        counts = manifest.counts
        cur.execute(
            "insert into ops.load_audit (manifest_key, source, table_name, batch_id, mode, status, "
            "rows_extracted, rows_rejected, duplicates_removed, rows_curated, rows_loaded, "
            "rows_deleted, rows_tombstoned, started_at, finished_at, load_id, binlog_position, "
            "capture_lag_seconds, events_inserted, events_updated, events_deleted) values (%s, "
            "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, to_timestamp(%s), clock_timestamp(), "
            "%s, %s, %s, %s, %s, %s)",
            (
                key,
                manifest.source,
                warehouse_name(manifest.table),
                manifest.batch_id,
                manifest.mode,
                status,
                counts.extracted,
                counts.rejected,
                counts.duplicates_removed,
                counts.curated,
                loaded,
                deleted,
                tombstoned,
                started,
                uuid.uuid4().hex,
                *capture_columns(manifest.capture),
            ),
        )


def staging_row_counts(endpoint: Endpoint, schema: str, tables: list[str]) -> dict[str, int]:
    counts = {}
    with pg_connect(endpoint) as conn, conn.cursor() as cur:
        for table in tables:
            cur.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table)))
            counts[table] = cur.fetchone()[0]
    return counts


def load_into_postgres(
    endpoint: Endpoint, lake: Lake, source: str, schema: str, tables: list[str]
) -> list[LoadResult]:
    """Load every pending batch of the tables; the first table failure raises."""
    from ingestion.warehouse.interface import load_pending

    with PostgresWarehouse(endpoint) as warehouse:
        results, failures = load_pending(warehouse, lake, source, schema, tables)
    if failures:
        raise LoadError(f"{failures[0].table}: {failures[0].error}")
    return results
