"""The MySQL/MariaDB source boundary: connections and catalog (information_schema) reads."""

from __future__ import annotations

import os
import re
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pymysql
import pymysql.cursors
from pymysql.constants import CLIENT

from ingestion.config.settings import Endpoint
from ingestion.errors import ConfigError, SourceError


def quote_ident(name: str) -> str:
    """Backtick-quote a name validated against information_schema, for a statement that pymysql
    formats with its parameters: a ``%`` in the name is doubled, so such a statement is always
    executed with a parameter sequence (an empty one where it binds nothing)."""
    return "`" + name.replace("`", "``").replace("%", "%%") + "`"


TLS_MODES = ("disabled", "required", "verify_ca", "verify_identity")
# Worth another try: the server is not (yet) reachable, went away, or is out of connections.
RETRYABLE = {
    1040: "too many connections",
    2002: "server not reachable",
    2003: "server not reachable (is the stack up? `make up`)",
    2006: "server went away",
    2013: "connection lost while connecting",
}


def tls_context(endpoint: Endpoint) -> ssl.SSLContext | None:
    """TLS to the source, chosen like the MySQL client's --ssl-mode: JLR_MYSQL_TLS_MODE
    disabled (default; the local stack is on loopback) | required (encrypted, certificate not
    checked) | verify_ca (signed by JLR_MYSQL_TLS_CA, or the system's CAs) | verify_identity
    (verify_ca and the host name; use this for RDS/Aurora with Amazon's CA bundle)."""
    mode = endpoint.tls_mode
    if mode not in TLS_MODES:
        raise ConfigError(f"JLR_MYSQL_TLS_MODE is {mode!r}; use one of {', '.join(TLS_MODES)}")
    if mode == "disabled":
        return None
    ca = endpoint.tls_ca
    if ca and not os.path.isfile(ca):
        raise ConfigError(f"JLR_MYSQL_TLS_CA: {ca} is not a file")
    context = ssl.create_default_context(cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = mode == "verify_identity"
    if mode == "required":  # encryption without verification, as --ssl-mode=REQUIRED
        context.verify_mode = ssl.CERT_NONE
    return context


@contextmanager
def connect(
    endpoint: Endpoint,
    database: str | None = None,
    *,
    streaming: bool = False,
    local_infile: bool = False,
    conv: dict | None = None,
) -> Iterator[pymysql.connections.Connection]:
    """A utf8mb4 connection in UTC; errors become SourceError without the password. An
    unreachable server is tried again with exponential backoff (JLR_MYSQL_CONNECT_ATTEMPTS,
    default 4; JLR_MYSQL_CONNECT_BACKOFF, default 1 s, doubling), then reported once."""
    attempts, backoff = endpoint.connect_attempts, endpoint.connect_backoff
    context = tls_context(endpoint)
    where = f"{endpoint.user}@{endpoint.host}:{endpoint.port}/{database or ''}"
    started = time.monotonic()
    for attempt in range(1, attempts + 1):
        try:
            conn = pymysql.connect(
                host=endpoint.host,
                port=endpoint.port,
                user=endpoint.user,
                password=endpoint.password,
                database=database,
                charset="utf8mb4",
                cursorclass=pymysql.cursors.SSCursor if streaming else pymysql.cursors.Cursor,
                local_infile=local_infile,
                client_flag=CLIENT.MULTI_STATEMENTS if local_infile else 0,
                connect_timeout=10,
                autocommit=True,
                conv=conv,
                init_command="SET time_zone = '+00:00'",
                ssl=context,
            )
            break
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else "?"
            detail = str(exc.args[-1]) if exc.args else ""
            tls_failed = code == 2026 or "SSL" in detail
            if code in RETRYABLE and not tls_failed and attempt < attempts:
                time.sleep(backoff * 2 ** (attempt - 1))
                continue
            hint = {
                1045: "wrong user or password",
                1049: "unknown database",
                **RETRYABLE,
            }.get(code, "")
            if tls_failed:  # not worth retrying: the same certificate fails the same way
                hint = f"TLS failed (JLR_MYSQL_TLS_MODE): {detail}"
            tried = (
                f" after {attempt} attempts over {time.monotonic() - started:.0f} s"
                if attempt > 1
                else ""
            )
            raise SourceError(
                f"cannot connect to MySQL {where}: {hint or exc.args[-1]} (error {code}){tried}"
            ) from None
    try:
        yield conn
    finally:
        if conn.open:  # a stopped stream closes its connection early
            conn.close()


@dataclass(frozen=True)
class SourceColumn:
    """One column as information_schema describes it."""

    name: str
    ordinal: int
    data_type: str  # e.g. 'decimal'
    column_type: str  # e.g. 'decimal(12,2) unsigned'
    nullable: bool
    char_max_length: int | None
    numeric_precision: int | None
    numeric_scale: int | None
    datetime_precision: int | None
    charset: str | None
    is_json: bool = False  # MariaDB's JSON is LONGTEXT with a json_valid() check
    override: str | None = None  # the source file's column_types entry, if any

    @property
    def unsigned(self) -> bool:
        return "unsigned" in self.column_type

    def as_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if out["override"] is None:  # absent rather than null: contracts written before it
            del out["override"]  # stay equal
        return out


def table_columns(
    conn: pymysql.connections.Connection, database: str, table: str
) -> list[SourceColumn]:
    """The table's columns in ordinal order; [] when the table does not exist."""
    with conn.cursor() as cur:
        cur.execute(
            """
            select column_name, ordinal_position, data_type, column_type, is_nullable,
                   character_maximum_length, numeric_precision, numeric_scale,
                   datetime_precision, character_set_name
            from information_schema.columns
            where table_schema = %s and table_name = %s
            order by ordinal_position
            """,
            (database, table),
        )
        rows = cur.fetchall()
        json_columns = _json_columns(cur, database, table)
    return [
        SourceColumn(
            r[0],
            int(r[1]),
            r[2].lower(),
            r[3].lower(),
            r[4] == "YES",
            None if r[5] is None else int(r[5]),
            None if r[6] is None else int(r[6]),
            None if r[7] is None else int(r[7]),
            None if r[8] is None else int(r[8]),
            r[9],
            r[0] in json_columns,
        )
        for r in rows
    ]


def _json_columns(cur, database: str, table: str) -> set[str]:
    """Columns declared JSON on MariaDB (reported as longtext with a json_valid check)."""
    try:
        cur.execute(
            "select check_clause from information_schema.check_constraints "
            "where constraint_schema = %s and table_name = %s",
            (database, table),
        )
    except pymysql.err.MySQLError:
        return set()  # MySQL 8 reports JSON as its own data_type and has no table_name here
    found = set()
    for (clause,) in cur.fetchall():
        match = re.fullmatch(r"\s*json_valid\(`((?:[^`]|``)+)`\)\s*", clause or "")
        if match:
            found.add(match.group(1).replace("``", "`"))
    return found


def primary_key(conn: pymysql.connections.Connection, database: str, table: str) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(
            """
            select column_name from information_schema.key_column_usage
            where table_schema = %s and table_name = %s and constraint_name = 'PRIMARY'
            order by ordinal_position
            """,
            (database, table),
        )
        return [r[0] for r in cur.fetchall()]


def base_tables(conn: pymysql.connections.Connection, database: str) -> list[str]:
    """The database's base tables (no views), sorted."""
    with conn.cursor() as cur:
        cur.execute(
            "select table_name from information_schema.tables "
            "where table_schema = %s and table_type = 'BASE TABLE' "
            "order by cast(table_name as binary)",
            (database,),
        )
        return [r[0] for r in cur.fetchall()]
