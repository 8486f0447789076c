"""make bench (daily run): what an incremental `make ingest` of the demo costs.

A fresh demo source at SCALE=0.01 (database ``jlr_bench_daily``, its own warehouse database
and lake), a first full ingest, one day of ``make changes``, then two timed ingests: the one
that carries the day's changes and one right after it where nothing changed. Each ingest runs
as its own process, exactly as ``make ingest`` runs it, and reports its wall seconds per stage.
Writes bench/results/daily.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import fresh_pg_database
from ingestion.config.settings import REPO_ROOT, Settings
from ingestion.demo.changes import apply_changes
from ingestion.demo.generator import seed_database

DATABASE = "jlr_bench_daily"
RESULTS = REPO_ROOT / "bench" / "results" / "daily.json"
SCALE = 0.01


def ingest(settings: Settings) -> dict:
    """One ``python -m ingestion ingest`` of the demo source: wall seconds, rows, stages."""
    env = {**os.environ, **settings.to_env(), "LOG_FORMAT": "json"}
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our interpreter and module
        [sys.executable, "-m", "ingestion", "ingest"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    tables = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    if done.returncode or not tables or any(t["status"] != "ok" for t in tables):
        raise SystemExit(f"bench: ingest failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return {
        "seconds": round(seconds, 1),
        "rows_extracted": sum(t["extracted"] for t in tables),
        "tables": len(tables),
        "stages": tables[0].get("run_stages", {}),
    }


def main() -> int:
    base = Settings.load()
    fresh_pg_database(base, DATABASE)
    tmp = Path(tempfile.mkdtemp(prefix="bench-daily-"))
    settings = base.with_databases(DATABASE, DATABASE, f"file://{tmp}/lake")
    seed_database(settings.mysql, DATABASE, SCALE, 42)
    first = ingest(settings)
    print(f"daily    first ingest (full): {first['seconds']} s", flush=True)
    changes = apply_changes(settings.mysql, DATABASE, 1)
    day = ingest(settings)
    unchanged = ingest(settings)
    results = {
        "scale": SCALE,
        "first_ingest": first,
        "changes": changes,
        "one_day_of_changes": day,
        "nothing_changed": unchanged,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for label, run in (("one day of changes", day), ("nothing changed", unchanged)):
        stages = " · ".join(f"{k} {v:.1f}s" for k, v in run["stages"].items())
        print(
            f"daily    {label}: {run['seconds']} s, {run['rows_extracted']:,} rows ({stages})",
            flush=True,
        )
    print(f"daily    -> {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
