"""make bench (dbt step): what an incremental `dbt build` costs next to a full refresh, same run.

On its own source and warehouse databases (``jlr_bench_dbt``) at ``--scale`` (default 1:
1,000,000 sales orders, the size of the other benchmarks): seed, ingest, ``dbt build
--full-refresh`` (a clean run: the next build's tests read only what changed after it); then one
day of changes (``make changes DAYS=1``) and ingest. From that state, ``--rounds`` times (default
3; the warehouse and dbt's target directory are restored before each round): time ``dbt build``
(incremental, as ``make build`` schedules it: unit tests left to ``make test`` and full
refreshes), ``dbt build`` again with nothing changed (what every build costs whatever the
change: dbt's start-up, its ~140 nodes, and the parts that still read whole tables) and, on the
same data, ``dbt build --full-refresh``. Interleaving the rounds keeps the machine's drift in
speed out of the ratio; each figure is the median of its rounds, and every round is kept. The
target is incremental <= 25 % of full refresh.
Writes bench/results/dbt.json, with each round's thread-seconds by kind of node (models, tests,
snapshot), its slowest nodes and the seconds spent outside dbt's nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from psycopg import sql

from ingestion.cli import DEFAULT_SOURCE
from ingestion.config.settings import REPO_ROOT, Settings
from ingestion.config.source import load_source
from ingestion.demo.changes import apply_changes
from ingestion.demo.generator import seed_database
from ingestion.pipeline import run_ingest
from ingestion.warehouse.postgres import pg_connect

DATABASE = "jlr_bench_dbt"
BEFORE = "jlr_bench_dbt_before"  # the warehouse before the incremental build, for every round
RESULTS = REPO_ROOT / "bench" / "results" / "dbt.json"
DBT = Path(sys.executable).parent / "dbt"
# the scheduled build (make build): unit tests run in make test and on --full-refresh
SCHEDULED = ("--exclude-resource-type", "unit_test")


def dbt_build(settings: Settings, target: Path, *flags: str) -> tuple[float, dict, dict]:
    """One `dbt build`, timed from the command line; one target directory for every run, as a
    user has, so dbt's partial parsing applies alike to each."""
    started = time.perf_counter()
    result = subprocess.run(
        [str(DBT), "build", *flags, "--target-path", str(target), "--log-path", str(target)],
        cwd=REPO_ROOT,
        env={**os.environ, **settings.to_env(), "DBT_TARGET": "local"},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"bench: dbt build {' '.join(flags)} failed:\n{result.stdout[-3000:]}")
    runs = json.loads((target / "run_results.json").read_text())["results"]
    by_kind: dict[str, float] = {}
    for run in runs:
        kind = run["unique_id"].split(".")[0]
        by_kind[kind] = round(by_kind.get(kind, 0.0) + run["execution_time"], 1)
    slowest = sorted(runs, key=lambda r: -r["execution_time"])[:8]
    named = {r["unique_id"].split(".")[-1]: round(r["execution_time"], 2) for r in slowest}
    return seconds, by_kind, named


def seconds_outside_nodes(target: Path, wall: float) -> float:
    """The part of a build's wall time outside dbt's node phase (run_results' elapsed_time):
    starting Python and dbt, loading the parsed project, writing the artifacts, exiting. No
    change to the models touches it."""
    elapsed = json.loads((target / "run_results.json").read_text())["elapsed_time"]
    return round(wall - elapsed, 2)


def copy_database(admin, source: str, target: str) -> None:
    """Replace database `target` with a copy of `source` (PostgreSQL copies its files)."""
    with pg_connect(admin) as conn:
        names = sql.Identifier(target), sql.Identifier(source)
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(names[0]))
        conn.execute(sql.SQL("create database {} template {} strategy file_copy").format(*names))


MARTS = [
    "fct_vehicle_sales",
    "dim_vehicle",
    "dim_customer",
    "fct_warranty_claims",
    "dealer_performance_monthly",
    "model_quality_monthly",
]


def mart_checksums(settings: Settings) -> dict[str, list]:
    """Rows and an order-independent checksum of every column, per mart: an incremental build
    must leave what a full refresh of the same data builds."""
    sums = {}
    with pg_connect(settings.postgres) as conn:
        for mart in MARTS:
            table = sql.Identifier("analytics_marts", mart)
            sums[mart] = list(
                conn.execute(
                    sql.SQL("select count(*), sum(hashtext(t::text)::bigint) from {} t").format(
                        table
                    )
                ).fetchone()
            )
    return sums


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of incremental, unchanged and full builds"
    )
    args = parser.parse_args()
    base = Settings.load()
    admin = base.with_databases(pg_db="postgres").postgres
    with pg_connect(admin) as conn:
        name = sql.Identifier(DATABASE)
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(name))
        conn.execute(sql.SQL("create database {}").format(name))
    tmp = Path(tempfile.mkdtemp(prefix="bench-dbt-"))
    settings = base.with_databases(DATABASE, DATABASE, f"file://{tmp}/lake")
    config = load_source(DEFAULT_SOURCE)
    tables = list(config.tables)

    started = time.perf_counter()
    seed_database(settings.mysql, DATABASE, args.scale, 42)
    print(f"seeded SCALE={args.scale} in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    runs = run_ingest(config, settings, DATABASE, tables)
    failed = [(r.table, r.error) for r in runs if r.status != "ok"]
    if failed:
        raise SystemExit(f"bench: ingest failed: {failed}")
    orders = next(r.loaded for r in runs if r.table == "sales_orders")
    print(f"ingested {sum(r.loaded for r in runs):,} rows in {time.perf_counter() - started:.0f} s")
    first, _, _ = dbt_build(settings, tmp / "target", "--full-refresh")
    print(f"dbt build --full-refresh (first)  {first:6.1f} s", flush=True)

    changes = apply_changes(settings.mysql, DATABASE, 1)
    time.sleep(max(t.safety_lag_seconds for t in config.tables.values()) + 1)
    runs = run_ingest(config, settings, DATABASE, tables)
    changed = next(r.extracted for r in runs if r.table == "sales_orders")

    # The warehouse and dbt's target directory as they are before the incremental build; every
    # round starts from them. The machine's speed drifts within minutes, so the three builds are
    # interleaved round after round and each figure is the median of its rounds.
    copy_database(admin, DATABASE, BEFORE)
    shutil.copytree(tmp / "target", tmp / "target-before")
    rounds = []
    differ: set[str] = set()
    for number in range(1, args.rounds + 1):
        copy_database(admin, BEFORE, DATABASE)
        shutil.rmtree(tmp / "target")
        shutil.copytree(tmp / "target-before", tmp / "target")
        os.sync()  # the copy's writes are not left to the builds
        incremental, kinds_incremental, slow_incremental = dbt_build(
            settings, tmp / "target", *SCHEDULED
        )
        outside = {"incremental": seconds_outside_nodes(tmp / "target", incremental)}
        unchanged, kinds_unchanged, slow_unchanged = dbt_build(settings, tmp / "target", *SCHEDULED)
        outside["unchanged"] = seconds_outside_nodes(tmp / "target", unchanged)
        after_incremental = mart_checksums(settings)
        full, kinds_full, slow_full = dbt_build(settings, tmp / "target", "--full-refresh")
        outside["full_refresh"] = seconds_outside_nodes(tmp / "target", full)
        differ |= {m for m, v in mart_checksums(settings).items() if v != after_incremental[m]}
        rounds.append(
            {
                "incremental_seconds": round(incremental, 2),
                "unchanged_seconds": round(unchanged, 2),
                "full_refresh_seconds": round(full, 2),
                "incremental_share": round(incremental / full, 3),
                "seconds_outside_nodes": outside,
                "thread_seconds_full_refresh": kinds_full,
                "thread_seconds_incremental": kinds_incremental,
                "thread_seconds_unchanged": kinds_unchanged,
                "slowest_full_refresh": slow_full,
                "slowest_incremental": slow_incremental,
                "slowest_unchanged": slow_unchanged,
            }
        )
        print(
            f"round {number}/{args.rounds}: incremental {incremental:5.1f} s, nothing changed "
            f"{unchanged:5.1f} s, --full-refresh {full:5.1f} s: {incremental / full:.0%} "
            f"(outside dbt's nodes: {outside['incremental']:.1f} / {outside['unchanged']:.1f} / "
            f"{outside['full_refresh']:.1f} s)",
            flush=True,
        )
    with pg_connect(admin) as conn:
        conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(BEFORE)))
    print(f"marts the incremental builds left unlike a full refresh: {sorted(differ) or 'none'}")

    incremental = median(r["incremental_seconds"] for r in rounds)
    unchanged = median(r["unchanged_seconds"] for r in rounds)
    full = median(r["full_refresh_seconds"] for r in rounds)
    shares = [r["incremental_share"] for r in rounds]
    outside_unchanged = median(r["seconds_outside_nodes"]["unchanged"] for r in rounds)
    ratio = incremental / full
    results = {
        "scale": args.scale,
        "sales_orders": orders,
        "sales_orders_changed": changed,
        "changes": changes,
        "rounds": len(rounds),
        "full_refresh_seconds": full,
        "incremental_seconds": incremental,
        "incremental_share": round(ratio, 3),
        "incremental_share_by_round": shares,
        "unchanged_seconds": unchanged,
        "unchanged_share": round(unchanged / full, 3),
        "unchanged_seconds_outside_nodes": outside_unchanged,
        "marts_differing_from_full_refresh": sorted(differ),
        "by_round": rounds,
    }
    args.results.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"dbt      incremental build {incremental:.1f} s = {ratio:.0%} of a full refresh "
        f"({full:.1f} s) after one day of changes ({changed:,} of {orders:,} orders); medians of "
        f"{len(rounds)} rounds (each round {min(shares):.0%}-{max(shares):.0%}); "
        f"target <= 25 % -> {args.results}"
    )
    print(
        f"         a build with nothing changed: {unchanged:.1f} s = {unchanged / full:.0%} of a "
        f"full refresh (the fixed part of every build), {outside_unchanged:.1f} s of it outside "
        "dbt's nodes (start-up, loading the parsed project, artifacts, exit)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
