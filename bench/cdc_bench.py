"""make bench (change capture): a cdc run against a cursor + key-comparison run on the same
1,000,000-row table with 1 % of it changed (9,000 updates, 1,000 deletes), in one run.

Both source files read ``jlr_bench.bench_cdc`` (a copy of bench_orders, built by
bench/extract_bench.py): ``mode: cdc``, and ``mode: incremental`` with ``cursor: updated_at`` and
``hard_deletes: true`` (what a table without a binlog needs to see its deletes). Each first copies
the table (not timed); then the same changes are made once, and each extracts them: seconds, and
rows the server read for it (``Rows_read``, the source's cost). Also the binlog
reader's events/s against ``mariadb-binlog --base64-output=decode-rows -vv`` decoding the same
part of the log to /dev/null. Writes bench/results/cdc.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.extract_bench import DATABASE, build_table
from ingestion.config.settings import REPO_ROOT, Settings
from ingestion.config.source import load_source
from ingestion.lake.storage import open_lake
from ingestion.source import binlog
from ingestion.source.extract import extract_table
from ingestion.source.mysql import connect

TABLE = "bench_cdc"
ROWS = 1_000_000
RESULTS = REPO_ROOT / "bench" / "results" / "cdc.json"
SOURCES = {
    "cdc": "mode: cdc",
    "cursor_and_keys": "mode: incremental\n    cursor: updated_at\n    hard_deletes: true\n"
    "    safety_lag_seconds: 0",
}


def rows_read(settings: Settings) -> int:
    """Rows the server's storage engines have read (MariaDB ``Rows_read``; MySQL
    ``Innodb_rows_read``)."""
    with connect(settings.mysql) as conn, conn.cursor() as cur:
        cur.execute("show global status where variable_name in ('Rows_read', 'Innodb_rows_read')")
        found = {str(name).lower(): int(value) for name, value in cur.fetchall()}
    return found.get("rows_read", found.get("innodb_rows_read", 0))


def main() -> int:
    settings = Settings.load()
    build_table(settings, ROWS)
    with connect(settings.mysql, DATABASE) as conn, conn.cursor() as cur:
        print(f"copying bench_orders to {TABLE} ...", flush=True)
        cur.execute(f"drop table if exists {TABLE}")
        cur.execute(f"create table {TABLE} like bench_orders")
        cur.execute(f"insert into {TABLE} select * from bench_orders")
    result: dict = {"rows": ROWS, "changed": {"updates": 9_000, "deletes": 1_000}}
    with tempfile.TemporaryDirectory(prefix="cdc-bench-") as tmp:
        lake = open_lake(f"file://{tmp}/lake")
        configs = {}
        for name, mode in SOURCES.items():
            path = Path(tmp) / f"{name}.yml"
            path.write_text(
                f"name: bench_{name}\ndatabase: {DATABASE}\nwarehouse_schema: bench_staging\n"
                f"tables:\n  {TABLE}:\n    {mode}\n"
            )
            configs[name] = load_source(path)
            print(f"{name}: first copy of {ROWS:,} rows ...", flush=True)
            extract_table(configs[name], settings.mysql, lake, TABLE, database=DATABASE)
        time.sleep(1.1)  # the changes are later than the cursor's window end
        with connect(settings.mysql, DATABASE) as conn, conn.cursor() as cur:
            cur.execute("flush binary logs")  # the changes in one file, for mariadb-binlog
            start = binlog.current_position(conn)
            cur.execute(
                f"update {TABLE} set status = 'delivered', updated_at = now() "
                "where mod(order_id, 100) = 1 and order_id <= 900000"
            )
            cur.execute(f"delete from {TABLE} where mod(order_id, 100) = 2 and order_id <= 100000")
            end = binlog.current_position(conn)
        time.sleep(1.1)
        for name, config in configs.items():
            before = rows_read(settings)
            started = time.perf_counter()
            run = extract_table(config, settings.mysql, lake, TABLE, database=DATABASE)
            seconds = time.perf_counter() - started
            result[name] = {
                "seconds": round(seconds, 2),
                "rows_read_at_source": rows_read(settings) - before,
                "rows_written": run.rows,
                "deletes_written": run.deletes,
            }
            print(f"{name}: {result[name]}", flush=True)
        result["cdc_over_cursor_seconds"] = round(
            result["cdc"]["seconds"] / result["cursor_and_keys"]["seconds"], 3
        )
        result["cdc_over_cursor_rows_read"] = round(
            result["cdc"]["rows_read_at_source"] / result["cursor_and_keys"]["rows_read_at_source"],
            4,
        )

    # the binlog reader alone against the server's own decoder, on the same part of the log
    with connect(settings.mysql) as conn:
        mariadb = "mariadb" in conn.get_server_info().lower()
    started = time.perf_counter()
    changes = binlog.read_changes(
        settings.mysql, DATABASE, TABLE, ["order_id"], start, end, is_mariadb=mariadb
    )
    ours = time.perf_counter() - started
    events = sum(changes.events.values())
    my = settings.mysql
    command = ["mariadb-binlog", "--no-defaults", "--read-from-remote-server", "-h", my.host,
               "-P", str(my.port), "-u", my.user, f"--start-position={start.pos}",
               f"--stop-position={end.pos}", "--base64-output=decode-rows", "-vv",
               start.file]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - the server's own client, arguments are a list
        command,
        env={"MYSQL_PWD": my.password, "PATH": "/usr/bin:/bin:/usr/sbin"},
        stdout=subprocess.DEVNULL,
        check=True,
    )
    reference = time.perf_counter() - started
    result["binlog_reader"] = {
        "events": events,
        "ours_events_per_s": round(events / ours),
        "mariadb_binlog_events_per_s": round(events / reference),
        "ratio": round(reference / ours, 3),
    }
    print(f"binlog reader: {result['binlog_reader']}", flush=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"cdc run {result['cdc_over_cursor_seconds']}x the seconds and "
        f"{result['cdc_over_cursor_rows_read']}x the source rows of a cursor + key-comparison run; "
        f"binlog reader {result['binlog_reader']['ratio']}x mariadb-binlog's events/s "
        f"(wrote {RESULTS.relative_to(REPO_ROOT)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
