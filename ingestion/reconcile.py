"""``python -m ingestion reconcile``: is the warehouse's staging table what the source holds?

For every configured table, both sides are read in full and compared on the same normalised
values: the source's row text (MySQL's own rendering, converters off) goes through what the
curate job does to it (trim, lowercase emails, salted hashes of PII, zero dates to null, source
DATETIMEs to UTC); staging's typed values are rendered alike. Compared:

* keys: live source rows (soft-deleted ones do not belong in staging) missing from staging, and
  staging rows whose key the source no longer has, and keys staging holds twice;
* an order-independent checksum per column over the keys both sides hold: the sum, modulo
  2**64, of a 64-bit BLAKE2b digest of each normalised value (nulls included as a marker).

A keyless table has no key to pair rows by: both sides are compared as multisets of whole
normalised rows (a 128-bit digest each, counted), so a missing, extra or changed row, and an
identical row held a different number of times, is a difference.

Differences explained by recorded rejects are not differences: a source row the curate job
rejected (its record, with the reason, is in the lake's rejects zone) is expected to be missing,
or to be an older version in staging, so keys with a recorded reject are compared by presence
only. Anything else makes the command exit 1. Run it when no ingest is in flight: rows changed
at the source after the last extract show as differences, as they should.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from ingestion.config.credentials import pii_salt, source_endpoint
from ingestion.config.settings import Settings
from ingestion.config.source import SourceConfig
from ingestion.contract import rules
from ingestion.contract.names import warehouse_name
from ingestion.contract.typemap import map_column
from ingestion.errors import PlatformError
from ingestion.lake.layout import rejects_prefix, table_rejects_prefix
from ingestion.lake.storage import Lake
from ingestion.source.mysql import SourceColumn, connect, quote_ident
from ingestion.source.plan import TablePlan, plan_table
from ingestion.warehouse.postgres import pg_connect

MASK = 2**64 - 1
NULL = b"\x00null"
SAMPLE = 5  # keys shown per kind of difference
FETCH = 10_000

Normaliser = Callable[[object], str | None]


# ------------------------------------------------------------------ normalised values
def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")
    return str(value)


ZERO_IN_DATE = re.compile(rules.ZERO_IN_DATE)


def _zero_date(text: str) -> bool:
    """A zero date or a zero in a date (``2019-00-00``): null in staging, as curated."""
    return ZERO_IN_DATE.match(text) is not None


def _as_geometry(value: object) -> str:
    """``<srid>;<WKB hex>`` from either side: the source's own value (the SRID, 4 bytes
    little-endian, then WKB) or staging's hex EWKB (PostGIS's text of a geometry)."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return f"{int.from_bytes(data[:4], 'little')};{data[4:].hex()}"
    data = bytes.fromhex(_text(value))
    order = "little" if data[0] == 1 else "big"
    kind = int.from_bytes(data[1:5], order)
    if not kind & 0x20000000:
        return f"0;{data.hex()}"
    srid = int.from_bytes(data[5:9], order)
    wkb = data[:1] + (kind & ~0x20000000).to_bytes(4, order) + data[9:]
    return f"{srid};{wkb.hex()}"


def _as_int(value: object) -> str:
    if isinstance(value, bytes):
        return str(int.from_bytes(value, "big"))
    return str(int(Decimal(_text(value))))


def _as_bool(value: object) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, bytes):  # BIT(1)
        return "t" if int.from_bytes(value, "big") else "f"
    return "t" if int(_text(value)) else "f"


def _as_float(single: bool) -> Normaliser:
    def normalise(value: object) -> str:
        number = float(_text(value))
        if single:  # FLOAT arrives as MySQL's short text and leaves as a PostgreSQL real
            number = struct.unpack("f", struct.pack("f", number))[0]
        return repr(number)

    return normalise


def _as_decimal(value: object) -> str:
    return format(Decimal(_text(value)), "f")


def _as_date(value: object) -> str | None:
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value)
    return None if _zero_date(text) else date.fromisoformat(text[:10]).isoformat()


def _as_datetime(zone: ZoneInfo | None) -> Normaliser:
    def normalise(value: object) -> str | None:
        if isinstance(value, datetime):
            moment = value
        else:
            text = _text(value)
            if _zero_date(text):
                return None
            moment = datetime.fromisoformat(text)
            if zone is not None:  # a source DATETIME in the source's zone
                moment = moment.replace(tzinfo=zone)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment.isoformat(sep=" ", timespec="microseconds")

    return normalise


def _as_json(value: object) -> str:
    parsed = json.loads(_text(value)) if isinstance(value, str | bytes) else value
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _as_binary(value: object) -> str:
    return bytes(value).hex() if not isinstance(value, str) else value.encode("latin-1").hex()


def _as_time(value: object) -> str:
    if isinstance(value, timedelta):  # not expected: TIME travels as MySQL's text
        raise TypeError("TIME must be read as text")
    return _text(value)


@dataclass(frozen=True)
class ColumnRule:
    """How one column's values are normalised: ``source`` for the source's text, ``staging``
    for the warehouse's typed value."""

    name: str
    source: Normaliser
    staging: Normaliser


def column_rules(plan: TablePlan, source_time_zone: str | None, salt: str) -> list[ColumnRule]:
    """Per column: the source's text through the curate job's normalising rules
    (``ingestion.contract.rules``), and staging's value as it is."""
    zone = ZoneInfo(source_time_zone) if source_time_zone else None
    out = []
    for column in plan.columns:
        types = map_column(column.as_dict()).as_dict()
        steps = rules.column_rules(column.name, types, plan.config.text_rules)
        base = _base_rule(column, types, zone if rules.to_utc(types, source_time_zone) else None)
        if not steps:
            out.append(ColumnRule(column.name, base, base))
            continue
        text = _text if rules.is_plain_text(types) else base
        out.append(ColumnRule(column.name, _normalised(text, steps, salt), _text))
    return out


def _normalised(inner: Normaliser, steps: tuple[str, ...], salt: str) -> Normaliser:
    def normalise(value: object) -> str | None:
        return rules.apply_python(steps, inner(value), salt)

    return normalise


def _base_rule(column: SourceColumn, types: dict[str, str], zone: ZoneInfo | None) -> Normaliser:
    raw = types["raw"]
    if types["spark"] == "boolean":  # TINYINT(1) and BIT(1)
        return _as_bool
    if raw in ("int", "bits"):
        return _as_int
    if raw == "float":
        return _as_float(column.data_type == "float")
    if column.data_type == "decimal":
        return _as_decimal
    if raw == "date":
        return _as_date
    if raw == "datetime":
        return _as_datetime(zone)  # a DATETIME in the source's zone; TIMESTAMP is read in UTC
    if raw == "json":
        return _as_json
    if raw == "base64":
        return _as_binary
    if raw == "ewkb":
        return _as_geometry
    if raw == "time":
        return _as_time
    return _text


def _apply(rule: Normaliser, value: object) -> str | None:
    return None if value is None else rule(value)


def digest(text: str | None) -> int:
    data = NULL if text is None else text.encode("utf-8")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


# ------------------------------------------------------------------ results
@dataclass
class TableReconciliation:
    table: str
    source_rows: int = 0  # live rows at the source
    staging_rows: int = 0
    rejected: int = 0  # source keys missing from or older in staging, with a recorded reject
    missing: list = field(default_factory=list)  # live at the source, not in staging
    extra: list = field(default_factory=list)  # in staging, not live at the source
    duplicate_keys: list = field(default_factory=list)  # in staging
    source_duplicate_keys: list = field(default_factory=list)  # explained: curated to one row
    columns_compared: int = 0
    columns_differing: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def equal(self) -> bool:
        return not (
            self.error
            or self.missing
            or self.extra
            or self.duplicate_keys
            or self.columns_differing
        )

    def as_dict(self) -> dict:
        return {
            "table": self.table,
            "equal": self.equal,
            "source_rows": self.source_rows,
            "staging_rows": self.staging_rows,
            "explained_by_rejects": self.rejected,
            "missing": len(self.missing),
            "extra": len(self.extra),
            "duplicate_keys": len(self.duplicate_keys),
            "source_duplicate_keys": len(self.source_duplicate_keys),
            "columns_compared": self.columns_compared,
            "columns_differing": self.columns_differing,
            "sample_missing": self.missing[:SAMPLE],
            "sample_extra": self.extra[:SAMPLE],
            "error": self.error,
        }


# ------------------------------------------------------------------ reading both sides
def rejected_keys(lake: Lake, source: str, plan: TablePlan, rules: dict[str, ColumnRule]):
    """Normalised keys of every record the curate job rejected for this table, and how many
    rejects carry no readable key (a corrupt line)."""
    keys, unkeyed = set(), 0
    for name in lake.list(table_rejects_prefix(source, plan.table), ".json"):
        for line in lake.get_bytes(name).splitlines():
            try:
                record = json.loads(json.loads(line)["record"])
                keys.add(tuple(_apply(rules[k].source, record[k]) for k in plan.primary_key))
            except (ValueError, KeyError, TypeError):
                unkeyed += 1
    return keys, unkeyed


def _source_rows(
    settings: Settings, database: str, plan: TablePlan, columns: list[str]
) -> Iterator[tuple]:
    names = ", ".join(quote_ident(c) for c in columns)
    query = f"select {names} from {quote_ident(database)}.{quote_ident(plan.table)}"
    with (
        connect(settings.mysql, database, streaming=True, conv={}) as conn,
        conn.cursor() as cur,
    ):
        cur.execute(query, ())  # no parameters, but formatted as if (quote_ident doubles %)
        while rows := cur.fetchmany(FETCH):
            yield from rows


def _staging_rows(
    settings: Settings, schema: str, plan: TablePlan, columns: list[str]
) -> Iterator[tuple]:
    """Staging's rows: ``columns`` are MySQL names, read by their warehouse names."""
    jsonb = {c.name for c in plan.columns if map_column(c.as_dict()).postgres == "jsonb"}
    query = sql.SQL("select {} from {}").format(
        sql.SQL(", ").join(
            # as text: psycopg reads a JSON null as None, which is SQL NULL's value too
            sql.SQL("{}::text").format(sql.Identifier(warehouse_name(c)))
            if c in jsonb
            else sql.Identifier(warehouse_name(c))
            for c in columns
        ),
        sql.Identifier(schema, plan.warehouse_table),
    )
    with (
        pg_connect(settings.postgres) as conn,
        conn.transaction(),
        conn.cursor(name=f"reconcile_{plan.warehouse_table}") as cur,
    ):
        cur.itersize = FETCH
        cur.execute(query)
        yield from cur


def _is_soft_deleted(value: object) -> bool:
    return value is not None and _text(value) not in ("0", "false", "")


def _row_digest(texts: Iterator[str | None]) -> bytes:
    """A whole row's normalised values as one digest (a keyless table's rows are compared as
    a multiset of these)."""
    h = hashlib.blake2b(digest_size=16)
    for text in texts:
        data = NULL if text is None else text.encode("utf-8")
        h.update(len(data).to_bytes(8, "big") + data)
    return h.digest()


def _reconcile_rows(
    config: SourceConfig,
    settings: Settings,
    database: str,
    lake: Lake,
    plan: TablePlan,
    normalisers: list[ColumnRule],
    result: TableReconciliation,
) -> TableReconciliation:
    """A keyless table: both sides as multisets of whole rows (identical rows are data, so
    their number must match too). The rejects recorded for the batches staging holds explain
    as many missing rows."""
    everything = [c.name for c in plan.columns]
    counts: dict[str, Counter] = {"source": Counter(), "staging": Counter()}
    batches: set[str] = set()
    for row in _source_rows(settings, database, plan, everything):
        pairs = zip(normalisers, row, strict=True)
        counts["source"][_row_digest(_apply(r.source, v) for r, v in pairs)] += 1
    for *row, batch in _staging_rows(
        settings, config.warehouse_schema, plan, [*everything, "_batch_id"]
    ):
        batches.add(batch)
        pairs = zip(normalisers, row, strict=True)
        counts["staging"][_row_digest(_apply(r.staging, v) for r, v in pairs)] += 1
    result.source_rows = counts["source"].total()
    result.staging_rows = counts["staging"].total()
    missing = counts["source"] - counts["staging"]
    extra = counts["staging"] - counts["source"]
    recorded = sum(
        len(lake.get_bytes(name).splitlines())
        for batch in batches
        for name in lake.list(rejects_prefix(config.name, plan.table, batch), ".json")
    )
    result.rejected = min(recorded, missing.total())
    unexplained = missing.total() - result.rejected
    # samples name the rows by their position in neither side (they have no key): the digest
    result.missing = [d.hex() for d in missing.elements()][:unexplained]
    result.extra = [d.hex() for d in extra.elements()]
    result.columns_compared = len(normalisers)
    return result


def reconcile_table(
    config: SourceConfig, settings: Settings, database: str, lake: Lake, table: str
) -> TableReconciliation:
    result = TableReconciliation(table)
    with connect(settings.mysql, database) as conn:
        plan = plan_table(config, conn, database, table)
    salt = pii_salt(settings)
    normalisers = column_rules(plan, config.connection.source_time_zone, salt)
    if plan.keyless:
        return _reconcile_rows(config, settings, database, lake, plan, normalisers, result)
    by_name = {r.name: r for r in normalisers}
    rejects, unkeyed = rejected_keys(lake, config.name, plan, by_name)
    key_rules = [by_name[k] for k in plan.primary_key]
    soft = plan.config.soft_delete_column
    everything = [c.name for c in plan.columns]

    def key_of(row: tuple, side: str) -> tuple:  # every row read starts with the key
        pairs = zip(key_rules, row, strict=False)
        return tuple(_apply(getattr(rule, side), value) for rule, value in pairs)

    def rows(side: str, columns: list[str]) -> Iterator[tuple]:
        if side == "source":
            return _source_rows(settings, database, plan, plan.primary_key + columns)
        return _staging_rows(settings, config.warehouse_schema, plan, plan.primary_key + columns)

    # keys first, reading only the key (and soft-delete) columns, so that the checksums below
    # cover exactly the keys both sides hold
    staging_keys: set[tuple] = set()
    for row in rows("staging", []):
        key = key_of(row, "staging")
        if key in staging_keys:
            result.duplicate_keys.append(list(key))
        staging_keys.add(key)
        result.staging_rows += 1
    shared: set[tuple] = set()
    seen: set[tuple] = set()
    unexplained_missing = []
    for row in rows("source", [soft] if soft else []):
        if soft and _is_soft_deleted(row[-1]):
            continue
        result.source_rows += 1
        key = key_of(row, "source")
        if key in seen:  # a key the source holds twice (no unique constraint on it there)
            result.source_duplicate_keys.append(list(key))
        seen.add(key)
        if key in rejects:
            result.rejected += 1
        elif key in staging_keys:
            shared.add(key)
        else:
            unexplained_missing.append(list(key))
    # a corrupt rejected line carries no key: each explains one otherwise unexplained row
    explained = min(unkeyed, len(unexplained_missing))
    result.rejected += explained
    result.missing = unexplained_missing[explained:]
    source_keys = shared | {k for k in staging_keys if k in rejects}
    result.extra = [list(k) for k in staging_keys - source_keys if k not in rejects]
    # a key staging holds twice is reported as such; its rows would skew every column's sum. A
    # key the source holds twice is curated to one row (the latest wins): compared by presence.
    shared -= {tuple(k) for k in result.duplicate_keys + result.source_duplicate_keys}

    sums = {"source": [0] * len(normalisers), "staging": [0] * len(normalisers)}
    offset = len(plan.primary_key)
    for side, total in sums.items():
        for row in rows(side, everything):
            if key_of(row, side) not in shared:
                continue
            for i, rule in enumerate(normalisers):
                text = _apply(getattr(rule, side), row[offset + i])
                total[i] = (total[i] + digest(text)) & MASK
    result.columns_compared = len(normalisers)
    result.columns_differing = [
        rule.name for i, rule in enumerate(normalisers) if sums["source"][i] != sums["staging"][i]
    ]
    return result


def reconcile(
    config: SourceConfig,
    settings: Settings,
    database: str,
    lake: Lake,
    tables: list[str],
    on_table: Callable[[TableReconciliation], None] | None = None,
) -> list[TableReconciliation]:
    # the source as an ingest reaches it (a secret, when one is named)
    settings = replace(settings, mysql=source_endpoint(config, settings))
    results = []
    for table in tables:
        try:
            result = reconcile_table(config, settings, database, lake, table)
        except (PlatformError, psycopg.Error, ValueError, TypeError) as exc:
            # one table's failure is reported in its row; the others still run
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            result = TableReconciliation(table, error=message)
        results.append(result)
        if on_table:
            on_table(result)
    return results
