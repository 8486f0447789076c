"""Loading curated batches into a real PostgreSQL: exactly once, atomic, schema-safe."""

import shutil
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.errors import LoadError
from ingestion.lake import open_lake
from ingestion.warehouse import load_pending, pg_connect

COLUMNS = [
    {"name": "id", "postgres": "bigint", "nullable": False},
    {"name": "amount", "postgres": "numeric(12,2)", "nullable": True},
    {"name": "note", "postgres": "varchar(20)", "nullable": True},
    {"name": "payload", "postgres": "bytea", "nullable": True},
    {"name": "_batch_id", "postgres": "varchar(32)", "nullable": False},
    {"name": "_is_deleted", "postgres": "boolean", "nullable": False},
]


def write_batch(lake, batch_id, rows, mode="merge", columns=COLUMNS):
    prefix = f"curated/src/items/batch={batch_id}"
    names = [c["name"] for c in columns]
    table = pa.table({n: [r.get(n) for r in rows] for n in names}).cast(
        pa.schema(
            [
                (
                    c["name"],
                    {
                        "bigint": pa.int64(),
                        "numeric(12,2)": pa.decimal128(12, 2),
                        "varchar(20)": pa.string(),
                        "varchar(32)": pa.string(),
                        "bytea": pa.binary(),
                        "boolean": pa.bool_(),
                        "integer": pa.int32(),
                    }[c["postgres"]],
                )
                for c in columns
            ]
        )
    )
    lake.path(prefix).mkdir(parents=True, exist_ok=True)
    pq.write_table(table, lake.path(f"{prefix}/part-0.parquet"))
    lake.put_json(
        f"{prefix}/_manifest.json",
        {
            "source": "src",
            "table": "items",
            "batch_id": batch_id,
            "mode": mode,
            "primary_key": ["id"],
            "columns": columns,
            "files": [{"key": f"{prefix}/part-0.parquet", "rows": len(rows)}],
            "counts": {
                "extracted": len(rows),
                "curated": len(rows),
                "rejected": 0,
                "duplicates_removed": 0,
            },
        },
    )
    return prefix


def rows(settings, query):
    with pg_connect(settings.postgres) as conn:
        return conn.execute(query).fetchall()


def row(i, amount="1.00", deleted=False, batch="b1", note="n"):
    return {
        "id": i,
        "amount": Decimal(amount),
        "note": note,
        "payload": b"\x00\xff",
        "_batch_id": batch,
        "_is_deleted": deleted,
    }


def test_a_batch_loads_once_and_merges_by_key(settings):
    lake = open_lake(settings.lake_uri)
    write_batch(lake, "b1", [row(1), row(2, note=""), row(3, note=None)])
    first = load_pending(settings.postgres, lake, "src", "stg", ["items"])
    assert [r.status for r in first] == ["loaded"] and first[0].rows_loaded == 3
    assert load_pending(settings.postgres, lake, "src", "stg", ["items"]) == []
    assert rows(settings, "select id, amount, note, payload from stg.items order by id") == [
        (1, Decimal("1.00"), "n", b"\x00\xff"),
        (2, Decimal("1.00"), "", b"\x00\xff"),
        (3, Decimal("1.00"), None, b"\x00\xff"),
    ]
    write_batch(lake, "b2", [row(2, "9.99", batch="b2"), row(3, deleted=True, batch="b2")])
    (second,) = load_pending(settings.postgres, lake, "src", "stg", ["items"])
    assert (second.rows_loaded, second.rows_deleted) == (1, 2)
    assert rows(settings, "select id, amount from stg.items order by id") == [
        (1, Decimal("1.00")),
        (2, Decimal("9.99")),
    ]
    assert rows(settings, "select count(*), sum(rows_loaded) from ops.load_audit") == [(2, 4)]


def test_full_batches_replace_and_older_waiting_ones_are_superseded(settings):
    lake = open_lake(settings.lake_uri)
    write_batch(lake, "b1", [row(1), row(2)], mode="full")
    write_batch(lake, "b2", [row(2, batch="b2"), row(5, batch="b2")], mode="full")
    results = load_pending(settings.postgres, lake, "src", "stg", ["items"])
    assert [r.status for r in results] == ["superseded", "loaded"]
    assert rows(settings, "select id from stg.items order by id") == [(2,), (5,)]


def test_a_failing_batch_leaves_nothing_behind(settings):
    lake = open_lake(settings.lake_uri)
    write_batch(lake, "b1", [row(1)])
    load_pending(settings.postgres, lake, "src", "stg", ["items"])
    prefix = write_batch(lake, "b2", [row(2, batch="b2"), row(3, batch="b2")])
    # the manifest promises more rows than the files hold: fails after COPY, before commit
    manifest = lake.get_json(f"{prefix}/_manifest.json")
    manifest["counts"]["curated"] = 5
    lake.put_json(f"{prefix}/_manifest.json", manifest)
    with pytest.raises(LoadError, match="copied 2 rows but the curated manifest holds 5"):
        load_pending(settings.postgres, lake, "src", "stg", ["items"])
    assert rows(settings, "select id from stg.items") == [(1,)]
    assert rows(settings, "select count(*) from ops.load_audit") == [(1,)]


def test_database_errors_roll_back_and_read_as_one_line(settings):
    lake = open_lake(settings.lake_uri)
    write_batch(lake, "b1", [row(1)])
    load_pending(settings.postgres, lake, "src", "stg", ["items"])
    write_batch(lake, "b2", [row(2, note="x" * 30, batch="b2")])  # too long for varchar(20)
    with pytest.raises(LoadError, match=r"failed and was rolled back: value too long"):
        load_pending(settings.postgres, lake, "src", "stg", ["items"])
    assert rows(settings, "select id from stg.items") == [(1,)]


def test_new_columns_are_added_and_changed_types_stop_the_table(settings):
    lake = open_lake(settings.lake_uri)
    write_batch(lake, "b1", [row(1)])
    load_pending(settings.postgres, lake, "src", "stg", ["items"])
    wider = [*COLUMNS, {"name": "qty", "postgres": "integer", "nullable": True}]
    write_batch(lake, "b2", [{**row(2, batch="b2"), "qty": 4}], columns=wider)
    load_pending(settings.postgres, lake, "src", "stg", ["items"])
    assert rows(settings, "select id, qty from stg.items order by id") == [(1, None), (2, 4)]
    changed = [{**c, "postgres": "integer"} if c["name"] == "qty" else c for c in wider]
    changed[1] = {**changed[1], "postgres": "bigint"}
    shutil.rmtree(lake.path("curated/src/items/batch=b2"))
    write_batch(lake, "b3", [{**row(3, batch="b3"), "amount": 7, "qty": 1}], columns=changed)
    with pytest.raises(
        LoadError,
        match=r"stg\.items\.amount: staging column is numeric\(12,2\) "
        r"but the batch brings bigint",
    ):
        load_pending(settings.postgres, lake, "src", "stg", ["items"])
