"""make bench (extract stage): our extractor vs the mariadb C client, same table, same run.

Builds ``jlr_bench.bench_orders`` (1,000,000 rows shaped like sales_orders: integers, a BIGINT
UNSIGNED, decimals, dates with zero dates, datetimes, enums, a SET) once, then times:

* reference: ``mariadb --batch --quick -e 'select * ...' | gzip -1 > /dev/null``
* ours: ``extract_table`` into a temporary lake, one stream, then ``streams: 2``

each as a separate process, best of ``--repeat`` runs; peak RSS is the child's ``ru_maxrss``.
Writes bench/results/extract.json and prints one line per contender and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ingestion.config.settings import REPO_ROOT, Settings
from ingestion.source.mysql import connect

DATABASE = "jlr_bench"
TABLE = "bench_orders"
RESULTS = REPO_ROOT / "bench" / "results" / "extract.json"
BUILD = f"""
insert into {TABLE}
select seq, 1 + mod(seq, 600), 1 + mod(seq * 7919, 400000), concat('SAL', lpad(hex(seq), 14, '0')),
       '2022-01-01' + interval mod(seq, 1400) day + interval mod(seq, 86400) second,
       if(mod(seq, 50) = 0, '0000-00-00', '2022-03-01' + interval mod(seq, 1400) day),
       40000 + mod(seq, 70000) + 0.99, mod(seq, 3000) - 100.25, 39000 + mod(seq, 70000) + 0.74,
       elt(1 + mod(seq, 3), 'GBP', 'EUR', 'USD'),
       elt(1 + mod(seq, 5), 'ordered', 'allocated', 'in_transit', 'delivered', 'cancelled'),
       elt(1 + mod(seq, 3), 'retail', 'fleet', 'online'), 'cash,pcp',
       if(mod(seq, 10) = 0, null, 18446744073709551615 - seq * 7),
       '2022-01-01' + interval mod(seq, 86400 * 1000) second,
       '2022-01-01 00:00:00.000001' + interval mod(seq * 13, 86400 * 1000) second,
       if(mod(seq, 200) = 0, '2026-01-01 10:00:00.5', null)
from seq_1_to_{{rows}}
"""
WORKER = """
import json, sys, time
from ingestion.config.source import load_source
from ingestion.source.extract import extract_table
from ingestion.lake.storage import open_lake
from ingestion.config.settings import Settings
if __name__ == "__main__":
    settings = Settings.load()
    result = extract_table(load_source(sys.argv[1]), settings.mysql, open_lake(sys.argv[2]),
                           sys.argv[3], database=sys.argv[4])
    print(json.dumps({"rows": result.rows, "files": result.files, "bytes": result.bytes}))
"""


def build_table(settings: Settings, rows: int) -> None:
    schema = (REPO_ROOT / "ingestion" / "demo" / "schema.sql").read_text()
    ddl = schema[schema.index("CREATE TABLE sales_orders") :]
    ddl = ddl[: ddl.index(";")].replace("sales_orders", TABLE, 1)
    with connect(settings.mysql) as conn, conn.cursor() as cur:
        cur.execute(f"create database if not exists {DATABASE}")
        cur.execute(f"use {DATABASE}")
        cur.execute(
            "select count(*) from information_schema.tables where table_schema = %s "
            "and table_name = %s",
            (DATABASE, TABLE),
        )
        if cur.fetchone()[0]:
            cur.execute(f"select count(*) from {TABLE}")
            if cur.fetchone()[0] == rows:
                return
            cur.execute(f"drop table {TABLE}")
        print(f"building {DATABASE}.{TABLE} with {rows:,} rows ...", flush=True)
        cur.execute(ddl)
        cur.execute("set session sql_mode = ''")
        cur.execute(BUILD.replace("{rows}", str(rows)))
        cur.execute(f"analyze table {TABLE}")
        cur.execute(f"drop table if exists {TABLE}_small")


def build_small_table(settings: Settings, rows: int) -> None:
    """The first ``rows`` rows again, to show peak memory does not grow with the table."""
    with connect(settings.mysql, DATABASE) as conn, conn.cursor() as cur:
        cur.execute(f"create table if not exists {TABLE}_small like {TABLE}")
        cur.execute(f"select count(*) from {TABLE}_small")
        if cur.fetchone()[0] != rows:
            cur.execute(f"truncate table {TABLE}_small")
            cur.execute(
                f"insert into {TABLE}_small select * from {TABLE} where order_id <= %s", (rows,)
            )


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS MiB of the child, stdout) of one of our own commands."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"bench: {command[0]} failed")
    return seconds, usage.ru_maxrss // 1024, out


def timed_reference(settings: Settings, env: dict[str, str]) -> tuple[float, int, str]:
    """``mariadb --batch --quick -e 'select * ...' | gzip -1 > /dev/null``, without a shell."""
    my = settings.mysql
    client = [
        "mariadb",
        "--no-defaults",
        "-h",
        my.host,
        "-P",
        str(my.port),
        "-u",
        my.user,
        "--batch",
        "--quick",
        "-e",
        f"select * from {DATABASE}.{TABLE}",
    ]
    started = time.perf_counter()
    dump = subprocess.Popen(client, env=env, stdout=subprocess.PIPE)
    gzip = subprocess.Popen(
        ["gzip", "-1"],  # the reference pipeline, gzip from PATH  # nosec B607
        stdin=dump.stdout,
        stdout=subprocess.DEVNULL,
    )
    dump.stdout.close()
    _, gzip_status, gzip_usage = os.wait4(gzip.pid, 0)
    _, dump_status, dump_usage = os.wait4(dump.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(dump_status) or os.waitstatus_to_exitcode(gzip_status):
        raise SystemExit("bench: the mariadb | gzip reference failed")
    return seconds, max(dump_usage.ru_maxrss, gzip_usage.ru_maxrss) // 1024, ""


def best(runs: list[tuple[float, int, str]]) -> dict:
    seconds = min(r[0] for r in runs)
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mib": max(r[1] for r in runs),
        "runs": [round(r[0], 3) for r in runs],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    settings = Settings.load()
    build_table(settings, args.rows)
    env = {**os.environ, **settings.to_env(), "MYSQL_PWD": settings.mysql.password}
    results: dict = {
        "rows": args.rows,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    results["reference"] = best([timed_reference(settings, env) for _ in range(args.repeat)])
    contenders = (
        ("ours_1_stream", TABLE, 1, args.repeat),
        ("ours_2_streams", TABLE, 2, args.repeat),
        ("ours_small_table", f"{TABLE}_small", 1, 1),
    )
    build_small_table(settings, args.rows // 5)
    for label, table, streams, repeat in contenders:
        runs = []
        for _ in range(repeat):
            tmp = Path(tempfile.mkdtemp(prefix="bench-"))
            try:
                config = tmp / "bench.yml"
                config.write_text(
                    f"name: bench\ndatabase: {DATABASE}\nwarehouse_schema: b\n"
                    f"tables:\n  {table}:\n    streams: {streams}\n"
                )
                runs.append(
                    timed(
                        [
                            sys.executable,
                            "-c",
                            WORKER,
                            str(config),
                            f"file://{tmp}/lake",
                            table,
                            DATABASE,
                        ],
                        env,
                    )
                )
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        results[label] = best(runs)
        results[label]["output"] = json.loads(runs[-1][2])
    ref = results["reference"]["seconds"]
    for key in ("reference", "ours_1_stream", "ours_2_streams", "ours_small_table"):
        rows = results[key].get("output", {}).get("rows", args.rows)
        results[key]["rows_per_s"] = round(rows / results[key]["seconds"])
    results["ratio_1_stream"] = round(ref / results["ours_1_stream"]["seconds"], 3)
    results["ratio_2_streams"] = round(ref / results["ours_2_streams"]["seconds"], 3)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for key, name in (
        ("reference", "mariadb client | gzip -1"),
        ("ours_1_stream", "extract, 1 stream"),
        ("ours_2_streams", "extract, 2 streams"),
    ):
        r = results[key]
        print(
            f"{name:<26} {r['rows_per_s']:>9,} rows/s  {r['seconds']:>6.2f} s  "
            f"peak RSS {r['peak_rss_mib']:>4} MiB"
        )
    small = results["ours_small_table"]
    print(
        f"peak RSS of one stream: {small['peak_rss_mib']} MiB at {small['output']['rows']:,} "
        f"rows, {results['ours_1_stream']['peak_rss_mib']} MiB at {args.rows:,} rows"
    )
    print(
        f"ratio vs reference: 1 stream {results['ratio_1_stream']:.2f}x, "
        f"2 streams {results['ratio_2_streams']:.2f}x (bar: >= 0.50 single stream) "
        f"-> {RESULTS.relative_to(REPO_ROOT)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
