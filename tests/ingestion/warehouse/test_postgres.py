"""Loading curated batches into a real PostgreSQL: exactly once, atomic, schema-safe."""

import os
import shutil
import signal
import subprocess
import sys
import threading
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.errors import LoadError
from ingestion.lake.manifests import read_curated
from ingestion.lake.storage import open_lake
from ingestion.warehouse.interface import PendingBatch
from ingestion.warehouse.postgres import PostgresWarehouse, load_into_postgres, pg_connect

COLUMNS = [
    {"name": "id", "postgres": "bigint", "nullable": False},
    {"name": "amount", "postgres": "numeric(12,2)", "nullable": True},
    {"name": "note", "postgres": "varchar(20)", "nullable": True},
    {"name": "payload", "postgres": "bytea", "nullable": True},
    {"name": "_batch_id", "postgres": "varchar(32)", "nullable": False},
    {"name": "_is_deleted", "postgres": "boolean", "nullable": False},
]


def write_batch(lake, batch_id, rows, mode="incremental", columns=COLUMNS):
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
                        "varchar(40)": pa.string(),
                        "varchar(10)": pa.string(),
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
    first = load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])
    assert [r.status for r in first] == ["loaded"] and first[0].rows_loaded == 3
    assert load_into_postgres(settings.postgres, lake, "src", "stg", ["items"]) == []
    assert rows(settings, "select id, amount, note, payload from stg.items order by id") == [
        (1, Decimal("1.00"), "n", b"\x00\xff"),
        (2, Decimal("1.00"), "", b"\x00\xff"),
        (3, Decimal("1.00"), None, b"\x00\xff"),
    ]
    write_batch(lake, "b2", [row(2, "9.99", batch="b2"), row(3, deleted=True, batch="b2")])
    (second,) = load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])
    assert (second.rows_loaded, second.rows_deleted) == (1, 2)
    assert rows(settings, "select id, amount from stg.items order by id") == [
        (1, Decimal("1.00")),
        (2, Decimal("9.99")),
    ]
    assert rows(settings, "select count(*), sum(rows_loaded) from ops.load_audit") == [(2, 4)]
    # the tombstone's key is recorded for the models built on staging, in the same transaction
    assert rows(
        settings,
        "select source, table_name, key_value, batch_id, deleted_at = l._loaded_at "
        "from ops.deleted_keys, (select max(_loaded_at) as _loaded_at from stg.items) l",
    ) == [("src", "items", "3", "b2", True)]
    assert staging_indexes(settings) == {
        "items__pk": "CREATE UNIQUE INDEX items__pk ON stg.items USING btree (id)",
        "items__loaded_at": "CREATE INDEX items__loaded_at ON stg.items USING btree (_loaded_at)",
    }


def staging_indexes(settings):
    return dict(
        rows(settings, "select indexname, indexdef from pg_indexes where schemaname = 'stg'")
    )


def test_full_batches_replace_and_older_waiting_ones_are_superseded(settings):
    lake = open_lake(settings.lake_uri)
    write_batch(lake, "b1", [row(1), row(2)], mode="full")
    write_batch(lake, "b2", [row(2, batch="b2"), row(5, batch="b2")], mode="full")
    results = load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])
    assert [r.status for r in results] == ["superseded", "loaded"]
    assert rows(settings, "select id from stg.items order by id") == [(2,), (5,)]
    # dropped for the bulk copy and built again; a full batch records no deleted keys
    assert sorted(staging_indexes(settings)) == ["items__loaded_at", "items__pk"]
    assert rows(settings, "select count(*) from ops.deleted_keys") == [(0,)]


def test_a_failing_batch_leaves_nothing_behind(settings):
    lake = open_lake(settings.lake_uri)
    write_batch(lake, "b1", [row(1)])
    load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])
    prefix = write_batch(lake, "b2", [row(2, batch="b2"), row(3, batch="b2")])
    # the manifest promises more rows than the files hold: fails after COPY, before commit
    manifest = lake.get_json(f"{prefix}/_manifest.json")
    manifest["counts"]["curated"] = 5
    lake.put_json(f"{prefix}/_manifest.json", manifest)
    with pytest.raises(LoadError, match="copied 2 rows but the curated manifest holds 5"):
        load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])
    assert rows(settings, "select id from stg.items") == [(1,)]
    assert rows(settings, "select count(*) from ops.load_audit") == [(1,)]


def test_database_errors_roll_back_and_read_as_one_line(settings):
    lake = open_lake(settings.lake_uri)
    write_batch(lake, "b1", [row(1)])
    load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])
    write_batch(lake, "b2", [row(2, note="x" * 30, batch="b2")])  # too long for varchar(20)
    with pytest.raises(LoadError, match=r"failed and was rolled back: value too long"):
        load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])
    assert rows(settings, "select id from stg.items") == [(1,)]


def test_new_columns_are_added_and_changed_types_stop_the_table(settings):
    lake = open_lake(settings.lake_uri)
    write_batch(lake, "b1", [row(1)])
    load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])
    wider = [*COLUMNS, {"name": "qty", "postgres": "integer", "nullable": True}]
    write_batch(lake, "b2", [{**row(2, batch="b2"), "qty": 4}], columns=wider)
    load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])
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
        load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])


def staging_state(settings):
    return rows(
        settings, "select id, amount, note, _batch_id, _loaded_at from stg.items order by id"
    )


def test_the_same_manifest_loaded_twice_changes_nothing_and_counts_reconcile(settings):
    lake = open_lake(settings.lake_uri)
    write_batch(lake, "b1", [row(1), row(2), row(3, deleted=True)])
    key = "curated/src/items/batch=b1/_manifest.json"
    with PostgresWarehouse(settings.postgres) as warehouse:
        warehouse.prepare()
        first = warehouse.load_batch(lake, "stg", PendingBatch(key, read_curated(lake, key)))
        before = staging_state(settings)
        second = warehouse.load_batch(lake, "stg", PendingBatch(key, read_curated(lake, key)))
    assert (first.status, second.status) == ("loaded", "skipped")
    assert staging_state(settings) == before and [r[0] for r in before] == [1, 2]
    # curated = loaded + tombstoned (+ rejected at load: none), recorded once
    assert rows(
        settings,
        "select rows_curated, rows_loaded, rows_tombstoned, count(*) over () from ops.load_audit",
    ) == [(3, 2, 1, 1)]


LOAD_SCRIPT = """
import sys
from ingestion.lake.storage import open_lake
from ingestion.config.settings import Settings
from ingestion.warehouse.postgres import load_into_postgres
lake = open_lake(sys.argv[1])
results = load_into_postgres(Settings.load().postgres, lake, "src", "stg", ["items"])
print([r.status for r in results])
"""


def test_a_kill_between_copy_and_commit_leaves_no_partial_rows(settings):
    lake = open_lake(settings.lake_uri)
    write_batch(lake, "b1", [row(1)])
    load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])
    write_batch(lake, "b2", [row(i, batch="b2") for i in range(2, 2002)])
    env = {**os.environ, **settings.to_env(), "JLR_CRASH_AT": "load.before_commit:1"}
    killed = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, settings.lake_uri], env=env, capture_output=True
    )
    assert killed.returncode == -signal.SIGKILL
    assert rows(settings, "select count(*) from stg.items") == [(1,)]
    assert rows(settings, "select count(*) from ops.load_audit") == [(1,)]
    env.pop("JLR_CRASH_AT")
    rerun = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, settings.lake_uri],
        env=env,
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.strip() == "['loaded']"
    assert rows(settings, "select count(*), count(distinct id) from stg.items") == [(2001, 2001)]


def test_two_loaders_started_at_once_load_each_batch_once(settings):
    lake = open_lake(settings.lake_uri)
    write_batch(lake, "b1", [row(i) for i in range(1, 3001)], mode="full")
    write_batch(lake, "b2", [row(i, "2.50", batch="b2") for i in range(2000, 4001)])
    start = threading.Barrier(2)
    outcomes: list = []

    def loader():
        start.wait()
        outcomes.append(load_into_postgres(settings.postgres, lake, "src", "stg", ["items"]))

    threads = [threading.Thread(target=loader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status for results in outcomes for r in results)
    # each batch is loaded by exactly one of them; the other finds it audited (or not pending)
    assert statuses.count("loaded") == 2 and set(statuses) <= {"loaded", "skipped"}
    assert rows(settings, "select count(*), count(distinct id), sum(amount) from stg.items") == [
        (4000, 4000, Decimal("1999.00") + Decimal("2.50") * 2001)
    ]
    assert rows(settings, "select count(*) from ops.load_audit") == [(2,)]


def test_longer_varchars_are_widened_and_narrower_ones_stop_the_table(settings):
    lake = open_lake(settings.lake_uri)
    write_batch(lake, "b1", [row(1)])
    load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])
    longer = [{**c, "postgres": "varchar(40)"} if c["name"] == "note" else c for c in COLUMNS]
    write_batch(lake, "b2", [row(2, note="x" * 30, batch="b2")], columns=longer)
    load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])
    assert rows(settings, "select length(note) from stg.items where id = 2") == [(30,)]
    shorter = [{**c, "postgres": "varchar(10)"} if c["name"] == "note" else c for c in COLUMNS]
    write_batch(lake, "b3", [row(3, batch="b3")], columns=shorter)
    with pytest.raises(LoadError, match=r"note: staging column is character varying\(40\)"):
        load_into_postgres(settings.postgres, lake, "src", "stg", ["items"])
    assert rows(settings, "select count(*) from stg.items") == [(2,)]
