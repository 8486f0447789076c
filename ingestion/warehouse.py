"""The warehouse boundary, PostgreSQL backend (the local stand-in for Redshift).

Loads a curated batch exactly once, atomically: in one transaction, under a per-table advisory
lock, it bulk-loads the batch's Parquet into a temporary table with ``COPY ... FROM STDIN``
(pyarrow record batches rendered as CSV, never row-by-row inserts), applies it to the staging table
(a full batch replaces the table's rows; otherwise rows are merged by primary key) and writes the
``ops.load_audit`` row keyed by the curated manifest. A manifest already audited is skipped.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql

from ingestion.curated import curated_manifests
from ingestion.errors import LoadError
from ingestion.lake import Lake
from ingestion.settings import Endpoint

AUDIT_DDL = """
create schema if not exists ops;
create table if not exists ops.load_audit (
    manifest_key        text primary key,
    source              text not null,
    table_name          text not null,
    batch_id            text not null,
    mode                text not null,
    status              text not null,
    rows_extracted      bigint not null,
    rows_rejected       bigint not null,
    duplicates_removed  bigint not null,
    rows_curated        bigint not null,
    rows_loaded         bigint not null,
    rows_deleted        bigint not null,
    started_at          timestamptz not null,
    finished_at         timestamptz not null
);
alter table ops.load_audit add column if not exists rows_tombstoned bigint not null default 0;
"""
LOADED_AT = "_loaded_at"


@dataclass
class LoadResult:
    table: str
    batch_id: str
    manifest_key: str
    status: str  # loaded | skipped (already audited) | superseded (a newer full batch)
    rows_loaded: int
    rows_deleted: int  # rows removed from the staging table (replaced, merged or deleted)
    seconds: float
    rows_tombstoned: int = 0  # rows of the batch that mark a deletion

    def as_dict(self) -> dict:
        return asdict(self)


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


def _existing_columns(cur: psycopg.Cursor, schema: str, table: str) -> dict[str, str]:
    cur.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
        "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped "
        "order by a.attnum",
        (schema, table),
    )
    return dict(cur.fetchall())


def _normalise(pg_type: str) -> str:
    aliases = {
        "timestamptz": "timestamp with time zone",
        "timestamp": "timestamp without time zone",
        "varchar": "character varying",
        "bool": "boolean",
    }
    base, paren, rest = pg_type.partition("(")
    return aliases.get(base.strip(), base.strip()) + (paren + rest if paren else "")


def ensure_staging_table(cur: psycopg.Cursor, schema: str, table: str, columns: list[dict]) -> None:
    """Create the staging table from the curated contract, or add new columns to it.

    A column whose type changed stops the load with a clear message; nothing is altered.
    """
    cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    existing = _existing_columns(cur, schema, table)
    target = sql.Identifier(schema, table)
    if not existing:
        defs = [
            sql.SQL("{} {}{}").format(
                sql.Identifier(c["name"]),
                sql.SQL(c["postgres"]),
                sql.SQL("" if c["nullable"] else " not null"),
            )
            for c in columns
        ]
        defs.append(
            sql.SQL("{} timestamptz not null default now()").format(sql.Identifier(LOADED_AT))
        )
        cur.execute(sql.SQL("create table {} ({})").format(target, sql.SQL(", ").join(defs)))
        return
    for c in columns:
        have = existing.get(c["name"])
        if have is None:
            cur.execute(
                sql.SQL("alter table {} add column {} {}").format(
                    target, sql.Identifier(c["name"]), sql.SQL(c["postgres"])
                )
            )
        elif _normalise(have) != _normalise(c["postgres"]):
            raise LoadError(
                f"{schema}.{table}.{c['name']}: staging column is {have} but the "
                f"batch brings {c['postgres']}; change the table deliberately "
                "(or drop it to rebuild) and load again"
            )


def _copy_parquet(
    cur: psycopg.Cursor, lake: Lake, files: list[dict], temp: sql.Identifier, names: list[str]
) -> int:
    columns = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    copied = 0
    with cur.copy(sql.SQL("copy {} ({}) from stdin (format csv)").format(temp, columns)) as copy:
        for f in files:
            parquet = pq.ParquetFile(lake.path(f["key"]))
            for batch in parquet.iter_batches(batch_size=50_000, columns=names):
                chunk = _csv_ready(pa.Table.from_batches([batch]))
                buffer = io.BytesIO()
                pacsv.write_csv(chunk, buffer, pacsv.WriteOptions(include_header=False))
                copy.write(buffer.getvalue())
                copied += chunk.num_rows
    return copied


def _audited(cur: psycopg.Cursor, manifest_key: str) -> bool:
    cur.execute("select 1 from ops.load_audit where manifest_key = %s", (manifest_key,))
    return cur.fetchone() is not None


def _audit(
    cur: psycopg.Cursor,
    manifest_key: str,
    manifest: dict,
    status: str,
    loaded: int,
    deleted: int,
    started: float,
    tombstoned: int = 0,
) -> None:
    counts = manifest["counts"]
    cur.execute(
        "insert into ops.load_audit (manifest_key, source, table_name, batch_id, mode, status, "
        "rows_extracted, rows_rejected, duplicates_removed, rows_curated, rows_loaded, "
        "rows_deleted, rows_tombstoned, started_at, finished_at) values (%s, %s, %s, %s, %s, "
        "%s, %s, %s, %s, %s, %s, %s, %s, to_timestamp(%s), clock_timestamp())",
        (
            manifest_key,
            manifest["source"],
            manifest["table"],
            manifest["batch_id"],
            manifest["mode"],
            status,
            counts["extracted"],
            counts["rejected"],
            counts["duplicates_removed"],
            counts["curated"],
            loaded,
            deleted,
            tombstoned,
            started,
        ),
    )


def load_batch(
    conn: psycopg.Connection,
    lake: Lake,
    schema: str,
    manifest_key: str,
    *,
    superseded: bool = False,
) -> LoadResult:
    """Apply one curated batch exactly once; everything happens in one transaction."""
    try:
        return _load_batch(conn, lake, schema, manifest_key, superseded)
    except psycopg.Error as exc:
        diag = exc.diag
        detail = "; ".join(
            x
            for x in (
                diag.message_primary,
                diag.message_detail,
                diag.context and diag.context.splitlines()[0],
            )
            if x
        )
        raise LoadError(
            f"loading {manifest_key} into schema {schema} failed and was rolled "
            f"back: {detail or exc}"
        ) from None


def _load_batch(
    conn: psycopg.Connection, lake: Lake, schema: str, manifest_key: str, superseded: bool
) -> LoadResult:
    started_wall, started = time.time(), time.perf_counter()
    manifest = lake.get_json(manifest_key)
    table = manifest["table"]
    target = sql.Identifier(schema, table)
    names = [c["name"] for c in manifest["columns"]]
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"jlr-load:{schema}.{table}",)
        )
        if _audited(cur, manifest_key):
            return LoadResult(table, manifest["batch_id"], manifest_key, "skipped", 0, 0, 0.0)
        if superseded:
            _audit(cur, manifest_key, manifest, "superseded", 0, 0, started_wall)
            return LoadResult(table, manifest["batch_id"], manifest_key, "superseded", 0, 0, 0.0)
        ensure_staging_table(cur, schema, table, manifest["columns"])
        temp = sql.Identifier(f"_batch_{table}")
        cur.execute(
            # CTAS: same columns and types, no NOT NULL (tombstones carry only their key)
            sql.SQL("create temp table {} on commit drop as select * from {} with no data").format(
                temp, target
            )
        )
        copied = _copy_parquet(cur, lake, manifest["files"], temp, names)
        if copied != manifest["counts"]["curated"]:
            raise LoadError(
                f"{table} batch {manifest['batch_id']}: copied {copied} rows but the "
                f"curated manifest holds {manifest['counts']['curated']}"
            )
        pk = sql.SQL(" and ").join(
            sql.SQL("t.{0} = b.{0}").format(sql.Identifier(k)) for k in manifest["primary_key"]
        )
        if manifest["mode"] == "full":
            cur.execute(sql.SQL("delete from {}").format(target))
        else:
            cur.execute(sql.SQL("delete from {} t using {} b where {}").format(target, temp, pk))
        deleted = cur.rowcount
        cols = sql.SQL(", ").join(sql.Identifier(n) for n in names)
        cur.execute(
            sql.SQL("insert into {} ({}, {}) select {}, now() from {} where not {}").format(
                target, cols, sql.Identifier(LOADED_AT), cols, temp, sql.Identifier("_is_deleted")
            )
        )
        loaded = cur.rowcount
        tombstoned = copied - loaded  # rows of the batch that mark a deletion
        _audit(cur, manifest_key, manifest, "loaded", loaded, deleted, started_wall, tombstoned)
    return LoadResult(
        table,
        manifest["batch_id"],
        manifest_key,
        "loaded",
        loaded,
        deleted,
        time.perf_counter() - started,
        tombstoned,
    )


def load_pending(
    endpoint: Endpoint, lake: Lake, source: str, schema: str, tables: list[str]
) -> list[LoadResult]:
    """Load every committed curated batch not yet in ops.load_audit, oldest first per table.

    When several full batches wait, only the newest is applied (each replaces the whole table);
    the older ones are audited as superseded so they are never applied later either.
    """
    results = []
    with pg_connect(endpoint) as conn:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("select pg_advisory_xact_lock(hashtextextended('jlr-load:audit', 0))")
            cur.execute(AUDIT_DDL)
        for table in tables:
            keys = curated_manifests(lake, source, table)
            with conn.cursor() as cur:
                cur.execute(
                    "select manifest_key from ops.load_audit where table_name = %s and source = %s",
                    (table, source),
                )
                done = {r[0] for r in cur.fetchall()}
            pending = [k for k in keys if k not in done]
            modes = [lake.get_json(k)["mode"] for k in pending]
            last_full = max((i for i, m in enumerate(modes) if m == "full"), default=-1)
            for i, key in enumerate(pending):
                results.append(load_batch(conn, lake, schema, key, superseded=i < last_full))
    return results


def staging_row_counts(endpoint: Endpoint, schema: str, tables: list[str]) -> dict[str, int]:
    counts = {}
    with pg_connect(endpoint) as conn, conn.cursor() as cur:
        for table in tables:
            cur.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table)))
            counts[table] = cur.fetchone()[0]
    return counts
