"""Extract: MySQL table -> raw zone (gzip JSON Lines files, then a manifest, written last).

A full extract reads inside one consistent snapshot. Values are written exactly: decimals as
text, dates and times as ISO-8601 text, BIT as its integer value, binary as base64; zero dates
become null and are counted per column in the manifest.
"""

from __future__ import annotations

import base64
import gzip
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pymysql.constants import FIELD_TYPE
from pymysql.converters import conversions

from ingestion.config import SourceConfig
from ingestion.errors import ConfigError
from ingestion.lake import Lake
from ingestion.mysql_source import SourceColumn, connect, primary_key, quote_ident, table_columns
from ingestion.settings import Endpoint
from ingestion.typemap import map_column

RAW_FORMAT = "jlr.raw.v1"
# Leave decimals, dates and times as the server's exact text (no float/datetime round trip).
RAW_CONVERSIONS = {
    k: v
    for k, v in conversions.items()
    if k
    not in (
        FIELD_TYPE.DECIMAL,
        FIELD_TYPE.NEWDECIMAL,
        FIELD_TYPE.DATE,
        FIELD_TYPE.DATETIME,
        FIELD_TYPE.TIMESTAMP,
        FIELD_TYPE.TIME,
    )
}


def raw_prefix(source: str, table: str) -> str:
    return f"raw/{source}/{table}"


@dataclass
class ExtractResult:
    table: str
    run_id: str
    manifest_key: str
    rows: int
    files: int
    bytes: int
    seconds: float
    zero_dates: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TablePlan:
    """A configured table checked against the live information_schema."""

    table: str
    columns: list[SourceColumn]
    primary_key: list[str]
    cursor: str | None


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
            f"{where}.primary_key: the table has no PRIMARY KEY; declare the "
            "columns that identify a row"
        )
    for name in pk:
        if name not in names:
            raise ConfigError(f"{where}.primary_key: column {name!r} does not exist")
    if tcfg.cursor and tcfg.cursor not in names:
        raise ConfigError(f"{where}.cursor: column {tcfg.cursor!r} does not exist")
    for column in columns:
        map_column(column.as_dict())  # unsupported types fail here, before any data moves
    return TablePlan(table, columns, pk, tcfg.cursor)


def _encoder(raw: str, name: str, zero_counts: dict[str, int]) -> Callable[[object], object]:
    if raw in ("int", "float", "text", "json", "time", "bool"):
        return lambda v: v
    if raw == "bits":
        return lambda v: None if v is None else int.from_bytes(v, "big")
    if raw == "base64":
        return lambda v: None if v is None else base64.b64encode(v).decode("ascii")
    if raw in ("date", "datetime"):

        def encode_date(v: object) -> object:
            if v is None:
                return None
            if v.startswith("0000-00-00"):  # any fsp: '0000-00-00 00:00:00.000000' too
                zero_counts[name] = zero_counts.get(name, 0) + 1
                return None
            return v.replace(" ", "T")

        return encode_date
    raise ValueError(f"unknown raw encoding {raw}")


class _ChunkWriter:
    """Rotating gzip JSON Lines files in a local temporary directory."""

    def __init__(self, tmpdir: Path, chunk_rows: int):
        self.tmpdir, self.chunk_rows = tmpdir, chunk_rows
        self.done: list[tuple[Path, int]] = []
        self._handle = None
        self._rows = 0

    def write(self, line: str) -> None:
        if self._handle is None:
            path = self.tmpdir / f"part-{len(self.done):05d}.jsonl.gz"
            # closed in close(): a chunk file stays open across many write() calls
            self._handle = gzip.open(path, "wt", encoding="utf-8", compresslevel=6)  # noqa: SIM115
            self._path = path
        self._handle.write(line)
        self._rows += 1
        if self._rows >= self.chunk_rows:
            self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self.done.append((self._path, self._rows))
            self._handle, self._rows = None, 0


def extract_table(
    config: SourceConfig,
    endpoint: Endpoint,
    lake: Lake,
    table: str,
    *,
    database: str | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> ExtractResult:
    """Full extract of one table in a consistent snapshot; returns what was committed."""
    database = database or endpoint.database or config.database
    started = time.perf_counter()
    extracted_at = datetime.now(UTC)
    run_id = extracted_at.strftime("%Y%m%dT%H%M%S%fZ")
    prefix = f"{raw_prefix(config.name, table)}/run={run_id}"
    zero_counts: dict[str, int] = {}
    with connect(endpoint, database, streaming=True, conv=RAW_CONVERSIONS) as conn:
        plan = plan_table(config, conn, database, table)
        types = [map_column(c.as_dict()) for c in plan.columns]
        names = [c.name for c in plan.columns]
        encoders = [
            _encoder(t.raw, c.name, zero_counts) for c, t in zip(plan.columns, types, strict=True)
        ]
        select = (
            f"select {', '.join(quote_ident(n) for n in names)} "
            f"from {quote_ident(database)}.{quote_ident(table)}"
        )
        with tempfile.TemporaryDirectory(prefix=f"extract-{table}-") as tmp:
            writer = _ChunkWriter(Path(tmp), config.tables[table].chunk_rows)
            rows = 0
            with conn.cursor() as cur:
                cur.execute("set transaction isolation level repeatable read")
                cur.execute("start transaction with consistent snapshot, read only")
                cur.execute(select)
                dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
                for record in cur:
                    writer.write(
                        dumps(
                            {n: enc(v) for n, enc, v in zip(names, encoders, record, strict=True)}
                        )
                        + "\n"
                    )
                    rows += 1
                    if on_rows and rows % 10_000 == 0:
                        on_rows(10_000)
                cur.execute("commit")
            writer.close()
            if on_rows:
                on_rows(rows % 10_000)
            files = []
            for path, count in writer.done:
                key = f"{prefix}/{path.name}"
                size = path.stat().st_size
                lake.put_file(key, path)
                files.append({"key": key, "rows": count, "bytes": size, "sha256": lake.sha256(key)})
    manifest = {
        "format": RAW_FORMAT,
        "source": config.name,
        "database": database,
        "table": table,
        "run_id": run_id,
        "mode": config.tables[table].mode,
        "extracted_at": extracted_at.isoformat(),
        "primary_key": plan.primary_key,
        "cursor": plan.cursor,
        "columns": [
            {**c.as_dict(), "types": t.as_dict()} for c, t in zip(plan.columns, types, strict=True)
        ],
        "files": files,
        "row_count": rows,
        "zero_dates": zero_counts,
    }
    manifest_key = f"{prefix}/_manifest.json"
    lake.put_json(manifest_key, manifest)  # the commit point: written last
    return ExtractResult(
        table,
        run_id,
        manifest_key,
        rows,
        len(files),
        sum(f["bytes"] for f in files),
        time.perf_counter() - started,
        zero_counts,
    )


def committed_manifests(lake: Lake, source: str, table: str) -> list[str]:
    """Raw manifests of a table, oldest first (run ids sort by time)."""
    return lake.list(raw_prefix(source, table) + "/", "_manifest.json")
