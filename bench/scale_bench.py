"""make bench-scale: `make ingest` of the whole demo source at SCALE=5 (about 5,000,000 sales
orders) on this machine, and each stage's peak memory next to the same run at a small scale.

For each scale: a fresh source and warehouse database (``jlr_bench_scale``) and lake, the demo
generator, then ``python -m ingestion ingest`` as its own process, exactly as ``make ingest``
runs it. A sampler reads /proc every 0.2 s and sums the resident memory of the process tree by
stage: the ingest process itself (extract and crawl run in it), the curate job (its Python
driver and Spark's JVM) and the load job. Flat memory means the peaks at SCALE=5 stay close to
those at the small scale while the rows grow tenfold. Writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pymysql

from bench.common import fresh_pg_database
from ingestion.config.settings import REPO_ROOT, Settings
from ingestion.demo.generator import seed_database
from ingestion.errors import SourceError
from ingestion.source.mysql import connect

DATABASE = "jlr_bench_scale"  # + _small for the small scale: both sources can be kept
RESULTS = REPO_ROOT / "bench" / "results" / "scale.json"
STAGES = {"curate_raw.py": "curate job", "load_staging.py": "load job"}
INGEST = "ingest process (extract, crawl)"
OTHER = "other children of the ingest"


def _proc(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:  # the process ended
        return ""


def process_tree_rss(root: int) -> dict[str, int]:
    """Resident bytes of the root's process tree, summed by stage."""
    parent, rss, stage_of = {}, {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        stat = _proc(pid, "stat")
        if not stat:
            continue
        parent[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        for line in _proc(pid, "status").splitlines():
            if line.startswith("VmRSS:"):
                rss[pid] = int(line.split()[1]) * 1024
        cmdline = _proc(pid, "cmdline")
        for script, stage in STAGES.items():
            if script in cmdline:
                stage_of[pid] = stage
    totals: dict[str, int] = {}
    for pid, size in rss.items():
        if pid == root:
            stage = INGEST
        else:  # the job whose process (or an ancestor of it) this is, if under the root
            node, stage, ours = pid, None, False
            while node in parent:
                stage = stage or stage_of.get(node)
                if parent[node] == root:
                    ours = True
                    break
                node = parent[node]
            if not ours:
                continue
            stage = stage or OTHER
        totals[stage] = totals.get(stage, 0) + size
    return totals


class PeakSampler(threading.Thread):
    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.peaks, self.done = root, {}, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            for stage, size in process_tree_rss(self.root).items():
                self.peaks[stage] = max(self.peaks.get(stage, 0), size)


def seeded_orders(settings: Settings, database: str) -> int:
    try:
        with connect(settings.mysql, database) as conn, conn.cursor() as cur:
            cur.execute("select count(*) from sales_orders")
            return cur.fetchone()[0]
    except (SourceError, pymysql.err.MySQLError):
        return 0


def one_scale(base: Settings, scale: float, database: str, reuse: bool) -> dict:
    fresh_pg_database(base, database)
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    settings = base.with_databases(database, database, f"file://{tmp}/lake")
    started = time.perf_counter()
    if reuse and seeded_orders(settings, database) == round(scale * 1_000_000):
        print(f"SCALE={scale}: reusing the seeded source {database}", flush=True)
    else:
        seed_database(settings.mysql, database, scale, 42)
        print(f"SCALE={scale}: seeded in {time.perf_counter() - started:.0f} s", flush=True)
    env = {**os.environ, **settings.to_env(), "LOG_FORMAT": "json"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingestion", "ingest"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = PeakSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    sampler.done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    tables = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    if proc.returncode or not tables or any(t["status"] != "ok" for t in tables):
        raise SystemExit(f"bench: ingest at SCALE={scale} failed:\n{out[-3000:]}\n{err[-3000:]}")
    rows = sum(t["extracted"] for t in tables)
    peaks = {k: round(v / 2**20) for k, v in sorted(sampler.peaks.items())}
    print(f"SCALE={scale}: {rows:,} rows ingested in {seconds:.0f} s; peak MiB {peaks}", flush=True)
    return {
        "scale": scale,
        "rows": rows,
        "sales_orders": next(t["extracted"] for t in tables if t["table"] == "sales_orders"),
        "ingest_seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds),
        "peak_mib": peaks,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=float, default=0.5)
    parser.add_argument("--scale", type=float, default=5.0)
    parser.add_argument(
        "--reuse-source",
        action="store_true",
        help="keep a source database already seeded at the same scale (seeding SCALE=5 takes "
        "about 15 minutes here)",
    )
    args = parser.parse_args()
    base = Settings.load()
    small = one_scale(base, args.small, DATABASE + "_small", args.reuse_source)
    large = one_scale(base, args.scale, DATABASE, args.reuse_source)
    growth = {
        stage: round(large["peak_mib"][stage] / small["peak_mib"][stage], 2)
        for stage in large["peak_mib"]
        if small["peak_mib"].get(stage)
    }
    results = {"small": small, "large": large, "peak_growth": growth}
    if RESULTS.exists():  # the figure this run is compared with: the previous committed run's
        before = json.loads(RESULTS.read_text())["large"]
        results["previous_large"] = {
            k: before[k] for k in ("ingest_seconds", "rows_per_second", "peak_mib")
        }
        results["speedup_vs_previous"] = round(
            large["rows_per_second"] / before["rows_per_second"], 2
        )
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"scale    make ingest at SCALE={args.scale}: {large['rows']:,} rows in "
        f"{large['ingest_seconds']:.0f} s ({large['rows_per_second']:,} rows/s); peak memory "
        f"x{max(growth.values()):.2f} at most for {large['rows'] / small['rows']:.0f}x the rows "
        f"({growth}) -> {RESULTS.relative_to(REPO_ROOT)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
