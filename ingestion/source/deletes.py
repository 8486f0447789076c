"""Delete detection without a binlog: the table's primary keys now against the previous run's.

Both lists are in the same order (numbers numerically, strings by their bytes), so a streaming
merge finds the keys that disappeared with flat memory whatever the table size.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ingestion.config.settings import Endpoint
from ingestion.lake.storage import Lake
from ingestion.source.mysql import connect, quote_ident
from ingestion.source.plan import INTEGER_TYPES, TablePlan
from ingestion.source.stream import FETCH_ROWS

Key = tuple


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
        cur.execute(sql, ())  # formatted as a parameterised statement: quote_ident doubles a %
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


def write_tombstones(lake: Lake, key: str, primary_key: list[str], keys: list[list]) -> dict | None:
    """A run's tombstones (one record per deleted key, as the raw zone writes keys) at ``key``;
    the file's entry for the manifest, or None when there are none."""
    if not keys:
        return None
    with tempfile.TemporaryDirectory(prefix="tombstones-") as tmp:
        path = Path(tmp) / "deletes.gz"
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
            for values in keys:
                out.write(json.dumps(dict(zip(primary_key, values, strict=True))) + "\n")
        entry = {
            "key": key,
            "rows": len(keys),
            "bytes": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "kind": "delete",
        }
        lake.put_file(key, path)
    return entry
