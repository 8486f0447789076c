"""``python -m ingestion discover``: a complete, commented source file from information_schema.

Every base table of the database (filtered by ``--include``/``--exclude`` glob patterns) becomes
an entry the pipeline accepts as it is:

* its primary key, as the table declares it;
* ``mode: incremental`` with the ``cursor`` the server maintains itself (a DATETIME/TIMESTAMP
  column ``ON UPDATE CURRENT_TIMESTAMP``) and ``hard_deletes: true`` (keys compared each run);
  otherwise ``mode: full``, with a comment saying why; a table without a primary key is copied
  whole (``mode: full``), identical rows included, with a comment on ``mode: append``;
* a ``partition_column`` suggestion (commented) for large tables with a date column;
* a comment on each column that needs attention (unsigned 64-bit, spatial, very wide values);
  a TINYINT(1) holding values other than 0 and 1 is written as ``column_types: {c: integer}``.

Any name MySQL accepts is written as it is (quoted where YAML needs it); where its warehouse name
(``ingestion.contract.names``) differs, a comment shows the staging table and column names.

What the pipeline cannot copy is listed in comments, never left in for the run to trip on: views,
tables with a column of a type the type map has no mapping for (naming the column and its type),
and tables whose warehouse name, or two of whose columns' warehouse names, would collide.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field

import yaml

from ingestion.config.source import IDENTIFIER_PATTERN
from ingestion.contract.names import RESERVED_COLUMNS, collisions, warehouse_name
from ingestion.contract.typemap import map_column
from ingestion.errors import CatalogError, ConfigError
from ingestion.source import binlog
from ingestion.source.mysql import SourceColumn, primary_key, quote_ident, table_columns

IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
LARGE_TABLE_ROWS = 1_000_000  # above this, suggest partitioning the curated Parquet
WIDE_BYTES = 65_535  # Redshift's VARCHAR limit: longer values are rejected, not truncated
DATE_TYPES = ("date", "datetime", "timestamp")
LIKELY_CURSORS = {"updated_at", "modified_at", "changed_at", "last_modified", "updated", "modified"}


@dataclass
class DiscoveredTable:
    name: str
    rows: int
    primary_key: list[str] = field(default_factory=list)
    cursor: str | None = None
    partition_column: str | None = None
    notes: dict[str, str] = field(default_factory=dict)  # column -> what needs attention
    column_types: dict[str, str] = field(default_factory=dict)  # column -> type override
    skipped: str | None = None  # why the table is left out
    renamed: dict[str, str] = field(default_factory=dict)  # column -> its warehouse name

    @property
    def warehouse_name(self) -> str:
        return warehouse_name(self.name)

    @property
    def incremental(self) -> bool:
        """A server-maintained cursor and a key to merge by: ``mode: incremental``."""
        return bool(self.cursor and self.primary_key)


@dataclass
class Discovery:
    database: str
    tables: list[DiscoveredTable]
    views: list[str]
    binlog_ready: bool = False  # the server allows mode cdc (ingestion.source.binlog)

    @property
    def copied(self) -> list[DiscoveredTable]:
        return [t for t in self.tables if not t.skipped]


def _selected(name: str, include: list[str], exclude: list[str]) -> bool:
    if include and not any(fnmatch.fnmatchcase(name, p) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(name, p) for p in exclude)


def _catalog(conn, database: str) -> tuple[list[tuple[str, str, int]], dict[tuple, str]]:
    with conn.cursor() as cur:
        cur.execute(
            "select table_name, table_type, coalesce(table_rows, 0) from information_schema.tables "
            "where table_schema = %s order by cast(table_name as binary)",
            (database,),
        )
        tables = [(r[0], r[1], int(r[2])) for r in cur.fetchall()]
        cur.execute(
            "select table_name, column_name, extra from information_schema.columns "
            "where table_schema = %s",
            (database,),
        )
        extras = {(r[0], r[1]): (r[2] or "").lower() for r in cur.fetchall()}
    return tables, extras


def _boolean_holds_others(conn, database: str, table: str, column: str) -> bool:
    with conn.cursor() as cur:
        cur.execute(
            f"select 1 from {quote_ident(database)}.{quote_ident(table)} "
            f"where {quote_ident(column)} not in (0, 1) limit 1",
            (),  # formatted as a parameterised statement: quote_ident doubles a %
        )
        return cur.fetchone() is not None


def _column_notes(
    conn, database: str, table: DiscoveredTable, columns: list[SourceColumn]
) -> dict[str, str]:
    """Notes on the columns that need attention; a TINYINT(1) that holds other values than 0
    and 1 is read as an integer (``table.column_types``), so no row is lost."""
    notes = {}
    for c in columns:
        types = map_column(c.as_dict())
        if c.data_type == "bigint" and c.unsigned:
            notes[c.name] = "BIGINT UNSIGNED: DECIMAL(20,0) in the warehouse (beyond BIGINT)"
        elif (
            types.raw == "bool"
            and c.data_type == "tinyint"
            and _boolean_holds_others(conn, database, table.name, c.name)
        ):
            table.column_types[c.name] = "integer"
            notes[c.name] = (
                "TINYINT(1) holding values other than 0 and 1: read as an integer "
                "(column_types); as a boolean those rows would be quarantined"
            )
        elif types.raw == "ewkb":
            notes[c.name] = "spatial: PostGIS geometry locally, GEOMETRY on Redshift (SRID kept)"
        elif types.redshift == f"varchar({WIDE_BYTES})" and c.data_type != "text":
            notes[c.name] = (
                f"may hold more than Redshift's {WIDE_BYTES:,} bytes a value: longer values "
                "are quarantined with the row"
            )
        elif c.name.lower() in LIKELY_CURSORS and c.data_type in ("datetime", "timestamp"):
            notes[c.name] = (
                "if every change sets it, `mode: incremental` with this `cursor` reads only the "
                "changes (the server does not maintain it: ON UPDATE CURRENT_TIMESTAMP is absent)"
            )
    return notes


def discover(
    conn, database: str, include: list[str] | None = None, exclude: list[str] | None = None
) -> Discovery:
    tables, extras = _catalog(conn, database)
    if not tables:
        raise ConfigError(f"database {database!r} has no tables (or does not exist)")
    include, exclude = include or [], exclude or []
    found, views = [], []
    staging: dict[str, str] = {}  # warehouse name -> the table that has it
    for name, kind, rows in tables:
        if not _selected(name, include, exclude):
            continue
        if kind != "BASE TABLE":
            views.append(name)
            continue
        table = DiscoveredTable(name, rows)
        found.append(table)
        if (other := staging.setdefault(table.warehouse_name, name)) != name:
            table.skipped = (
                f"table {other!r} has the same warehouse name {table.warehouse_name!r} "
                "(copy one of them: the two would share a staging table)"
            )
            continue
        columns = table_columns(conn, database, name)
        if problems := collisions([c.name for c in columns], RESERVED_COLUMNS):
            table.skipped = (
                f"{'; '.join(problems)} (leave one out with exclude_columns, then copy it)"
            )
            continue
        table.renamed = {
            c.name: warehouse_name(c.name) for c in columns if warehouse_name(c.name) != c.name
        }
        for c in columns:
            try:
                map_column(c.as_dict())
            except CatalogError:
                table.skipped = f"column {c.name!r}: MySQL type {c.column_type!r} has no mapping"
                break
        if table.skipped:
            continue
        table.primary_key = primary_key(conn, database, name)
        cursors = [
            c.name
            for c in columns
            if c.data_type in ("datetime", "timestamp")
            and "on update current_timestamp" in extras.get((name, c.name), "")
        ]
        table.cursor = cursors[0] if cursors else None
        if rows > LARGE_TABLE_ROWS:
            dates = [c.name for c in columns if c.data_type in DATE_TYPES and not c.nullable]
            table.partition_column = next((d for d in dates if d != table.cursor), None)
        notes = _column_notes(conn, database, table, columns)
        if table.cursor:  # the server maintains a cursor: no other candidate to suggest
            notes = {k: v for k, v in notes.items() if not v.startswith("if every change")}
        table.notes = notes
    if include and not found and not views:
        raise ConfigError(f"--include {' '.join(include)}: no table of {database!r} matches")
    return Discovery(database, found, views, not binlog.preflight(conn)[0])


def scalar(name: str) -> str:
    """A MySQL name as a YAML scalar: plain where YAML reads it back as that very string (an
    identifier that is not ``yes``, ``null``, ``1e3``...), else double-quoted (JSON's escapes
    are YAML's)."""
    if IDENTIFIER.match(name) and yaml.safe_load(name) == name:
        return name
    return json.dumps(name, ensure_ascii=False)


def _names(names: list[str]) -> str:
    return "[" + ", ".join(map(scalar, names)) + "]"


def render(discovery: Discovery, name: str, schema: str) -> str:
    """The source file, with comments a person can act on."""
    lines = [
        f"# Source file for MySQL database {scalar(discovery.database)}, written by "
        "`python -m ingestion discover`.",
        "# Edit freely: the run checks every name against the live catalog before data moves.",
        "# Names are MySQL's; the lake and the warehouse spell them by the warehouse-name rule",
        "# (lower case, other characters than a-z 0-9 _ become _): shown where they differ.",
        f"name: {name}",
        f"database: {scalar(discovery.database)}",
        f"warehouse_schema: {schema}",
        "",
        "tables:",
    ]
    for t in discovery.copied:
        lines.append(f"  {scalar(t.name)}:  # about {t.rows:,} rows")
        if t.warehouse_name != t.name:
            lines.append(f"    # staging table: {schema}.{t.warehouse_name}")
        if t.renamed:
            pairs = ", ".join(f"{scalar(c)} -> {w}" for c, w in t.renamed.items())
            lines.append(f"    # columns in the warehouse: {pairs}")
        if not t.primary_key:
            lines += [
                "    mode: full  # no primary key: every run copies the whole table as it is, "
                "identical rows included",
                "    # if rows are only ever added (a log), `mode: append` with a `cursor` "
                "reads only the new ones",
            ]
        else:
            lines.append(f"    primary_key: {_names(t.primary_key)}")
        if t.incremental:
            lines += [
                "    mode: incremental",
                f"    cursor: {scalar(t.cursor)}  # maintained by ON UPDATE CURRENT_TIMESTAMP",
                "    hard_deletes: true  # deletes found by comparing keys with the last run",
            ]
        elif t.primary_key:
            lines.append(
                "    mode: full  # no column maintained by ON UPDATE CURRENT_TIMESTAMP: "
                "every run reads the whole table"
            )
        if t.primary_key and discovery.binlog_ready:
            lines.append(
                "    # the server's binlog allows `mode: cdc`: every insert, update and delete "
                "from the log, no cursor needed"
            )
        if t.partition_column:
            lines.append(
                f"    # partition_column: {scalar(t.partition_column)}  # a large table: curated "
                "Parquet by month"
            )
        if t.column_types:
            pairs = ", ".join(f"{scalar(c)}: {kind}" for c, kind in t.column_types.items())
            lines.append(f"    column_types: {{{pairs}}}")
        for column, note in t.notes.items():
            lines.append(f"    # {scalar(column)}: {note}")
    left_out = [t for t in discovery.tables if t.skipped]
    if left_out or discovery.views:
        lines += ["", "# Left out:"]
        lines += [f"#   {scalar(t.name)}: {_one_line(t.skipped)}" for t in left_out]
        lines += [f"#   {scalar(v)}: a view (views are not copied; copy the tables under it)"
                  for v in discovery.views]  # fmt: skip
    return "\n".join(lines) + "\n"


def _one_line(text: str | None) -> str:
    """A reason in a comment: names in it may hold line breaks, which would end the comment."""
    return (text or "").replace("\r", "\\r").replace("\n", "\\n")


def source_name(database: str) -> str:
    """A source name (an identifier) for a database name."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", database).lower().strip("_") or "source"
    return name if re.match(r"[A-Za-z_]", name) else f"s_{name}"
