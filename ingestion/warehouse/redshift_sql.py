"""Every SQL statement the Redshift backend sends, and nothing else.

Kept in one module so that a golden test pins the text and a test parses each statement with
sqlfluff's Redshift dialect. Identifiers come from validated configuration and the curated
contract and are always double-quoted by ``ident``.

Values: statements sent alone through ``ExecuteStatement`` take named parameters (``:name``).
The load itself runs as one ``BatchExecuteStatement`` (one transaction), which accepts no
parameters, and ``COPY`` takes none on any path; so the few values it needs (manifest key, batch
id, counts, the S3 manifest URL, the IAM role ARN) are all produced by the platform, checked
against a strict pattern and rendered by ``literal`` - the only place a value becomes SQL text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ingestion.errors import LoadError
from ingestion.lake.manifests import CuratedManifest
from ingestion.warehouse.interface import (
    AUDIT_COLUMNS,
    DELETED_KEY_COLUMNS,
    DELETED_KEY_SEPARATOR,
    LOADED_AT,
    capture_columns,
    is_not_null,
)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,126}$")
_SAFE_TEXT = re.compile(r"^[A-Za-z0-9_.:/=+\-@,| ]{0,1024}$")
AUDIT_TABLE = '"ops"."load_audit"'
DELETED_KEYS_TABLE = '"ops"."deleted_keys"'


def ident(*names: str) -> str:
    for name in names:
        if not _IDENT.match(name):
            raise LoadError(f"{name!r} is not a valid Redshift identifier")
    return ".".join(f'"{n}"' for n in names)


def literal(value: str | int | float | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise LoadError(f"cannot render {type(value).__name__} as a SQL literal")
    if isinstance(value, int):
        return str(value)
    if not _SAFE_TEXT.match(value):
        raise LoadError(f"refusing to render {value!r} as a SQL literal (unexpected characters)")
    return "'" + value + "'"


# --- reads (ExecuteStatement with parameters) -----------------------------------------------


def audited_manifests() -> str:
    return (
        f"select manifest_key from {AUDIT_TABLE} "
        "where source = :source and table_name = :table_name"
    )


def audit_row() -> str:
    return (
        "select load_id, status, rows_loaded, rows_deleted, rows_tombstoned "
        f"from {AUDIT_TABLE} where manifest_key = :manifest_key"
    )


def staging_columns() -> str:
    # svv_columns also covers tables the user cannot select from yet; ordinal order = COPY order
    return (
        "select column_name, data_type, character_maximum_length, numeric_precision, "
        "numeric_scale from svv_columns where table_schema = :schema_name "
        "and table_name = :table_name order by ordinal_position"
    )


def load_errors() -> str:
    return (
        "select file_name, line_number, column_name, error_code, error_message "
        "from sys_load_error_detail where query_id = :query_id order by line_number limit 5"
    )


# --- DDL (ExecuteStatement, one statement each; Redshift runs ALTER COLUMN outside a block) ---


def create_audit_table() -> list[str]:
    columns = ", ".join(
        f"{ident(name)} {rs}{' not null' if name == 'manifest_key' else ''}"
        for name, _, rs in AUDIT_COLUMNS
    )
    deleted = ", ".join(
        f"{ident(name)} {rs} not null{' default sysdate' if name == 'deleted_at' else ''}"
        for name, _, rs in DELETED_KEY_COLUMNS
    )
    return [
        "create schema if not exists ops",
        f"create table if not exists {AUDIT_TABLE} ({columns}, primary key (manifest_key))",
        f"create table if not exists {DELETED_KEYS_TABLE} ({deleted}) "
        "diststyle auto compound sortkey (deleted_at)",
    ]


def add_audit_columns(existing: set[str]) -> list[str]:
    """ALTERs giving an audit table made by an earlier version the newer columns (Redshift has
    no ADD COLUMN IF NOT EXISTS); ``existing`` from ``staging_columns()`` on ops.load_audit."""
    return [
        f"alter table {AUDIT_TABLE} add column {ident(name)} {rs}"
        for name, _, rs in AUDIT_COLUMNS
        if name not in existing
    ]


def create_schema(schema: str) -> str:
    return f"create schema if not exists {ident(schema)}"


@dataclass(frozen=True)
class Layout:
    """Physical design from the table's configuration; absent keys mean Redshift chooses."""

    dist_key: str | None = None
    sort_keys: tuple[str, ...] = ()


def create_table(
    schema: str, table: str, columns: list[dict], primary_key: list[str], layout: Layout
) -> str:
    defs = [
        f"{ident(c['name'])} {c['redshift']}{' not null' if is_not_null(c, primary_key) else ''}"
        for c in columns
    ]
    defs.append(f"{ident(LOADED_AT)} timestamptz not null default sysdate")
    if primary_key:  # informational on Redshift; a keyless table declares none
        defs.append(f"primary key ({', '.join(ident(k) for k in primary_key)})")
    dist = (
        f"diststyle key distkey ({ident(layout.dist_key)})"
        if layout.dist_key
        else ("diststyle auto")
    )
    sort = (
        f"compound sortkey ({', '.join(ident(k) for k in layout.sort_keys)})"
        if layout.sort_keys
        else "sortkey auto"
    )
    return (
        f"create table if not exists {ident(schema, table)} ({', '.join(defs)}) "
        f"encode auto {dist} {sort}"
    )


def add_column(schema: str, table: str, column: dict) -> str:
    return (
        # the table is ENCODE AUTO, so Redshift picks the new column's encoding too
        f"alter table {ident(schema, table)} add column {ident(column['name'])} "
        f"{column['redshift']}"
    )


def widen_varchar(schema: str, table: str, column: dict) -> str:
    return (
        f"alter table {ident(schema, table)} alter column {ident(column['name'])} "
        f"type {column['redshift']}"
    )


# --- the load: one BatchExecuteStatement, one transaction --------------------------------------


@dataclass(frozen=True)
class LoadStep:
    name: str
    sql: str


def load_transaction(
    *,
    schema: str,
    table: str,  # the staging table: the source table's warehouse name
    columns: list[dict],
    primary_key: list[str],
    mode: str,
    copy_manifest_url: str | None,
    iam_role_arn: str,
    manifest_key: str,
    manifest: CuratedManifest,
    load_id: str,
    superseded: bool = False,
) -> list[LoadStep]:
    """The statements of one batch's load, in order, each named for error reports.

    Exactly once: after the locks, the audit row is inserted only if the manifest has none; every
    later statement acts only if the audit row carries this attempt's ``load_id``. A second loader
    of the same manifest (or a retry after an unknown outcome) therefore changes nothing. A
    superseded batch copies nothing, so it needs no ``copy_manifest_url``.
    """
    target = ident(schema, table)
    temp = ident(f"_batch_{table}")
    names = [c["name"] for c in columns]
    cols = ", ".join(ident(n) for n in names)
    # JSON and spatial values arrive in the Parquet as text (COPY loads neither SUPER nor
    # GEOMETRY from Parquet): staged as VARCHAR, converted on insert
    convert = {"super": "json_parse", "geometry": "st_geomfromewkb"}
    selected = ", ".join(
        f"{convert[c['redshift']]}({ident(c['name'])})"
        if c["redshift"] in convert
        else ident(c["name"])
        for c in columns
    )
    audited = f"select 1 from {AUDIT_TABLE} where manifest_key = {literal(manifest_key)}"
    unaudited = f"not exists ({audited})"
    owned = f"exists ({audited} and load_id = {literal(load_id)})"
    counts = manifest.counts
    curated = int(counts.curated)
    pk_join = " and ".join(f"t.{ident(k)} = b.{ident(k)}" for k in primary_key)
    if superseded:
        loaded = deleted = tombstoned = "0"
    else:
        loaded = f"(select count(*) from {temp} where not {ident('_is_deleted')})"
        tombstoned = f"(select count(*) from {temp} where {ident('_is_deleted')})"
        deleted = {
            "full": f"(select count(*) from {target})",
            "append": "0",  # inserted as they are
        }.get(mode, f"(select count(*) from {target} t join {temp} b on {pk_join})")
    values = ", ".join(
        [
            literal(manifest_key),
            literal(manifest.source),
            literal(table),
            literal(manifest.batch_id),
            literal(mode),
            literal("superseded" if superseded else "loaded"),
            *(literal(n) for n in (counts.extracted, counts.rejected, counts.duplicates_removed)),
            literal(curated),
            loaded,
            deleted,
            tombstoned,
            "sysdate",
            "sysdate",
            literal(load_id),
            *(literal(v) for v in capture_columns(manifest.capture)),
        ]
    )
    audit_names = ", ".join(ident(name) for name, _, _ in AUDIT_COLUMNS)
    steps = [
        LoadStep("lock", f"lock {AUDIT_TABLE}, {target}"),
    ]
    if not superseded:
        temp_defs = ", ".join(
            f"{ident(c['name'])} {'varchar(65535)' if c['redshift'] in convert else c['redshift']}"
            for c in columns
        )
        steps += [
            LoadStep("create temp table", f"create temp table {temp} ({temp_defs})"),
            LoadStep(
                "copy",
                f"copy {temp} from {literal(copy_manifest_url)} iam_role {literal(iam_role_arn)} "
                "format as parquet manifest",
            ),
            # fails the transaction (division by zero) unless COPY brought every curated row
            LoadStep(
                "count check",
                f"select 1 / (case when count(*) = {curated} then 1 else 0 end) from {temp}",
            ),
        ]
    steps.append(
        LoadStep(
            "audit",
            f"insert into {AUDIT_TABLE} ({audit_names}) select {values} where {unaudited}",
        )
    )
    if superseded:
        return steps
    if mode == "full":
        steps.append(LoadStep("delete", f"delete from {target} where {owned}"))
    elif mode != "append":
        key_text = f" || {literal(DELETED_KEY_SEPARATOR)} || ".join(
            f"cast(b.{ident(k)} as varchar)" for k in primary_key
        )
        names_deleted = ", ".join(ident(name) for name, _, _ in DELETED_KEY_COLUMNS)
        steps.append(
            LoadStep(
                "record deletions",
                f"insert into {DELETED_KEYS_TABLE} ({names_deleted}) select "
                f"{literal(manifest.source)}, {literal(table)}, {key_text}, "
                f"{literal(manifest.batch_id)}, {literal(manifest_key)}, sysdate "
                f"from {temp} b where b.{ident('_is_deleted')} and {owned}",
            )
        )
        steps.append(
            LoadStep("delete", f"delete from {target} t using {temp} b where {pk_join} and {owned}")
        )
    steps.append(
        LoadStep(
            "insert",
            f"insert into {target} ({cols}, {ident(LOADED_AT)}) select {selected}, sysdate "
            f"from {temp} where not {ident('_is_deleted')} and {owned}",
        )
    )
    return steps


def copy_manifest(files: list[dict]) -> dict:
    """Redshift's COPY manifest for Parquet: every file mandatory, with its content length."""
    return {
        "entries": [
            {"url": f["url"], "mandatory": True, "meta": {"content_length": f["size"]}}
            for f in files
        ]
    }
