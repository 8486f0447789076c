"""Change capture from the binary log (``mode: cdc``): which rows changed, in commit order.

The binlog is read with ``mysql-replication`` from the position the last run committed up to the
server's position at this run's start (a transaction boundary: the server writes whole
transactions). Rolled-back transactions are never in it. What a run keeps of it is, per primary
key, the last operation in log order: ``upsert`` (an insert or an update; an update that moves a
key is a delete of the old key and an upsert of the new) or ``delete``. The rows of upserted keys
are then read from the table by key, rendered by the server exactly as a full extract renders
them (every type, zero dates, YEAR 0, spatial values), and the deleted keys become tombstones.

So the binlog says what changed and in which order; the table says what it is. A row read this
way is at least as new as the window's end: a change made after it shows up again in the next
run's window and is read again, so staging converges on the source and never goes back in time.
A schema change inside the window needs no decoding of old row images beyond their keys (the
column names come with each event, ``binlog_row_metadata=FULL``).

Preflight (``preflight``) checks what the server must offer before anything moves; a committed
position that is no longer on the server (purged, or another server) is ``BinlogLost``.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ingestion.config.settings import Endpoint
from ingestion.errors import SourceError
from ingestion.source.mysql import tls_context

# what the server must be set to; checked before a cdc table moves (one line per unmet need)
REQUIRED = {
    "log_bin": ("1", "the binary log is off: start the server with --log-bin"),
    "binlog_format": ("ROW", "binlog_format must be ROW"),
    "binlog_row_image": ("FULL", "binlog_row_image must be FULL"),
    "binlog_row_metadata": (
        "FULL",
        "binlog_row_metadata must be FULL (column names in the log: MySQL 8.0.14+, MariaDB 10.5+)",
    ),
}
RETENTION_WARNING_HOURS = 24


class BinlogLost(SourceError):
    """The committed position is no longer on the server: the changes since are lost to the
    log."""


@dataclass(frozen=True)
class Position:
    file: str
    pos: int

    def as_dict(self) -> dict:
        return {"file": self.file, "pos": self.pos}

    @classmethod
    def of(cls, value: dict) -> Position:
        return cls(str(value["file"]), int(value["pos"]))

    def __str__(self) -> str:
        return f"{self.file}:{self.pos}"

    def key(self) -> tuple[str, int]:
        """Binlog file names sort by their sequence number (``name.000123``)."""
        return (self.file, self.pos)


def current_position(conn) -> Position:
    with conn.cursor() as cur:
        cur.execute("show master status")
        row = cur.fetchone()
    if not row:
        raise SourceError("the server has no binary log position (is --log-bin on?)")
    return Position(str(row[0]), int(row[1]))


def snapshot_position(cur) -> Position | None:
    """The binlog position of the consistent snapshot open on ``cur``'s connection (MariaDB's
    ``binlog_snapshot_file``/``_position``: every transaction committed before it is in the
    snapshot, none after). None where the server does not report it (MySQL)."""
    cur.execute("show status like 'binlog\\_snapshot\\_%'")
    found = {}
    for name, value in cur.fetchall():
        name = name.decode() if isinstance(name, bytes) else str(name)
        found[name.lower()] = value.decode() if isinstance(value, bytes) else str(value)
    file, pos = found.get("binlog_snapshot_file"), found.get("binlog_snapshot_position")
    if not file or not pos:
        return None
    return Position(file, int(pos))


def binlog_files(conn) -> list[str]:
    with conn.cursor() as cur:
        cur.execute("show binary logs")
        return [str(r[0]) for r in cur.fetchall()]


def server_identity(conn) -> str:
    """What identifies the server whose binlog a position belongs to."""
    with conn.cursor() as cur:
        cur.execute("select @@server_id, @@log_bin_basename")
        server_id, basename = cur.fetchone()
    return f"{server_id}:{basename}"


def _variables(conn, names: list[str]) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute(
            "select variable_name, variable_value from information_schema.global_variables "
            "where variable_name in (" + ", ".join(["%s"] * len(names)) + ")",
            [n.upper() for n in names],
        )
        return {str(k).lower(): str(v) for k, v in cur.fetchall()}


def preflight(conn) -> tuple[list[str], list[str]]:
    """(unmet needs, warnings) of the server for change capture: binlog settings, the user's
    replication grants, and the binlog's retention."""
    values = _variables(
        conn,
        [*REQUIRED, "binlog_expire_logs_seconds", "expire_logs_days"],
    )
    problems = []
    for name, (wanted, message) in REQUIRED.items():
        have = values.get(name)
        if have is None and name == "binlog_row_metadata":
            problems.append(message + " (the server has no such setting)")
        elif have is not None and have.upper() not in (wanted, "ON" if wanted == "1" else wanted):
            problems.append(f"{message} (it is {have})")
    with conn.cursor() as cur:
        cur.execute("show grants")
        grants = " ".join(str(r[0]).upper() for r in cur.fetchall())
    if "ALL PRIVILEGES ON *.*" not in grants:
        if "REPLICATION SLAVE" not in grants and "REPLICATION REPLICA" not in grants:
            problems.append("the user needs the REPLICATION SLAVE grant (to read the binlog)")
        if not any(g in grants for g in ("REPLICATION CLIENT", "BINLOG MONITOR", "SUPER")):
            problems.append(
                "the user needs the REPLICATION CLIENT grant (BINLOG MONITOR on MariaDB) to "
                "read the binlog position"
            )
    warnings = []
    seconds = float(values.get("binlog_expire_logs_seconds") or 0) or (
        float(values.get("expire_logs_days") or 0) * 86_400
    )
    if seconds and seconds < RETENTION_WARNING_HOURS * 3600:
        warnings.append(
            f"the server keeps its binlog for {seconds / 3600:.0f} h: a table not ingested "
            "within that time loses its position (on_binlog_loss decides what then happens)"
        )
    return problems, warnings


def check_available(conn, start: Position, identity: str, committed_identity: str | None) -> None:
    """The committed position must still be readable on this server."""
    if committed_identity and committed_identity != identity:
        raise BinlogLost(
            f"the committed position {start} belongs to another server ({committed_identity}; "
            f"this one is {identity})"
        )
    if start.file not in binlog_files(conn):
        raise BinlogLost(f"the binlog file of the committed position {start} has been purged")


# ------------------------------------------------------------------ reading changes
Key = tuple


@dataclass
class Changes:
    """Per key, the last operation in log order; counts by operation; the last event's time."""

    upserts: dict[Key, None] = field(default_factory=dict)  # ordered as last seen
    deletes: dict[Key, None] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=lambda: {"c": 0, "u": 0, "d": 0})
    last_event_at: int | None = None  # unix seconds of the last change's commit

    def upsert(self, key: Key) -> None:
        self.deletes.pop(key, None)
        self.upserts.pop(key, None)
        self.upserts[key] = None

    def delete(self, key: Key) -> None:
        self.upserts.pop(key, None)
        self.deletes.pop(key, None)
        self.deletes[key] = None


def _mariadb_gtid(endpoint: Endpoint, position: Position) -> str:
    """The GTID state at a file position (a transaction boundary): where MariaDB resumes."""
    from ingestion.source.mysql import connect

    with connect(endpoint) as conn, conn.cursor() as cur:
        cur.execute("select binlog_gtid_pos(%s, %s)", (position.file, position.pos))
        row = cur.fetchone()
    if not row or row[0] is None:
        raise BinlogLost(f"the server cannot resume its binlog at {position}")
    return str(row[0])


def _server_id(seed: str) -> int:
    """A replica server id for this reader, stable per table and far from real replicas'."""
    return 1_000_000 + zlib.crc32(seed.encode()) % 1_000_000_000


def read_changes(
    endpoint: Endpoint,
    database: str,
    table: str,
    primary_key: list[str],
    start: Position,
    end: Position,
    *,
    is_mariadb: bool,
    on_events: Callable[[int], None] | None = None,
) -> Changes:
    """The table's changes from ``start`` (exclusive) to ``end``, reduced to the last operation
    per key."""
    from pymysqlreplication import BinLogStreamReader
    from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

    changes = Changes()
    if start.key() >= end.key():
        return changes
    settings = {
        "host": endpoint.host,
        "port": endpoint.port,
        "user": endpoint.user,
        "password": endpoint.password,
    }
    if (context := tls_context(endpoint)) is not None:
        settings["ssl"] = context
    where = {"log_file": start.file, "log_pos": start.pos, "resume_stream": True}
    if is_mariadb:  # MariaDB's dump protocol starts at a GTID position, not a file offset
        where = {"auto_position": _mariadb_gtid(endpoint, start)}
    reader = BinLogStreamReader(
        connection_settings=settings,
        server_id=_server_id(f"{database}.{table}"),
        blocking=False,
        only_schemas=[database],
        only_tables=[table],
        is_mariadb=is_mariadb,
        **where,
    )

    def key_of(values: dict) -> Key:
        try:
            return tuple(values[k] for k in primary_key)
        except KeyError as exc:
            raise SourceError(
                f"table {table!r}: a binlog row event has no column {exc.args[0]!r} of the "
                "primary key (binlog_row_metadata must be FULL, binlog_row_image FULL)"
            ) from None

    try:
        for event in reader:
            end_of_event = int(event.packet.log_pos or 0)  # 0: an artificial rotate event
            if end_of_event and (reader.log_file, end_of_event) > end.key():
                break  # the window ends at the run's start: later changes are the next run's
            if isinstance(event, WriteRowsEvent):
                for row in event.rows:
                    changes.upsert(key_of(row["values"]))
                    changes.events["c"] += 1
            elif isinstance(event, UpdateRowsEvent):
                for row in event.rows:
                    before, after = key_of(row["before_values"]), key_of(row["after_values"])
                    if before != after:  # the key itself changed: the old one is gone
                        changes.delete(before)
                    changes.upsert(after)
                    changes.events["u"] += 1
            elif isinstance(event, DeleteRowsEvent):
                for row in event.rows:
                    changes.delete(key_of(row["values"]))
                    changes.events["d"] += 1
            else:
                continue
            changes.last_event_at = int(event.timestamp)
            if on_events:
                on_events(len(event.rows))
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - the binlog client's or the server's error: one line
        raise SourceError(
            f"table {table!r}: reading the binlog from {start} failed: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        reader.close()
    return changes


# ------------------------------------------------------------------ keys, kept between steps
def param_value(value: object) -> object:
    """A key value decoded from the binlog, in JSON (kept under the run): text for the types
    JSON lacks, ``{"b64": ...}`` for bytes; ``from_param`` gives back what the lookup binds."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        total = int(value.total_seconds())
        sign, total = ("-", -total) if total < 0 else ("", total)
        return f"{sign}{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
    raise SourceError(f"a primary key value of type {type(value).__name__} cannot be kept")


def from_param(value: object) -> object:
    """A kept key value as the lookup binds it (the server compares text with dates and
    decimals by their value)."""
    if isinstance(value, dict):
        return base64.b64decode(value["b64"])
    return value


def raw_value(value: object) -> object:
    """A kept key value as the raw zone writes it (binary as base64, the rest as kept): a
    tombstone's key casts to the same typed value as the row's."""
    return value["b64"] if isinstance(value, dict) else value


def capture_summary(window: dict, changes: dict) -> dict:
    """What a cdc run read: events by operation, the position reached, the last change's
    commit time, and the lag: seconds from that commit until the run committed it (0 when the
    window held no change: nothing was waiting)."""
    last = changes.get("last_event_at")
    now = datetime.now(UTC)
    return {
        "position": window["high"],
        "events": changes["events"],
        "keys_upserted": len(changes["upserts"]),
        "keys_deleted": len(changes["deletes"]),
        "last_event_at": datetime.fromtimestamp(last, UTC).isoformat() if last else None,
        "lag_seconds": round(max(0.0, now.timestamp() - last), 3) if last else 0.0,
    }
