"""make bench (pipeline stages): the 1,000,000-row bench table through every stage, one run.

extract (in process) -> crawl -> curate (the Glue job script as its own process, as
``make ingest`` runs it) -> load (PostgreSQL COPY), each timed; prints rows/s per stage and the
curate stage's share of the whole run, and writes bench/results/pipeline.json. Run after
bench/extract_bench.py, which builds the table.

Two references for the curate stage, on the same raw files in the same run:

- Spark's floor (``bench/spark_floor.py``, its own process like the job): read the gzip JSON
  Lines with the explicit schema, cast, write zstd Parquet partitioned by month; nothing else.
- DuckDB (in this process, as many threads as Spark has cores): the same read and casts plus
  the dedupe by key and cursor, written the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pacsv
from psycopg import sql

from bench.common import fresh_pg_database
from ingestion.catalog.crawl import crawl_table
from ingestion.catalog.local import LocalCatalog
from ingestion.config.settings import REPO_ROOT, Settings
from ingestion.config.source import load_source
from ingestion.lake import layout
from ingestion.lake.manifests import read_raw
from ingestion.lake.storage import open_lake
from ingestion.source.extract import extract_table
from ingestion.warehouse.postgres import load_into_postgres, pg_connect

DATABASE, TABLE, SCHEMA = "jlr_bench", "bench_orders", "bench_staging"
RESULTS = REPO_ROOT / "bench" / "results" / "pipeline.json"


def fresh_warehouse(settings: Settings) -> Settings:
    fresh_pg_database(settings, DATABASE)
    return settings.with_databases(pg_db=DATABASE)


def psql_copy_reference(settings: Settings, lake, source: str) -> float:
    """Seconds for ``psql \\copy`` to load the same curated rows, exported as CSV beforehand (not
    timed), into an empty table of the same shape as the staging table."""
    from ingestion.lake.layout import curated_manifests
    from ingestion.lake.manifests import read_curated
    from ingestion.warehouse.postgres import _csv_ready, _parquet

    manifest = read_curated(lake, curated_manifests(lake, source, TABLE)[-1])
    names = [c["name"] for c in manifest.columns]
    csv_path = Path(tempfile.mkdtemp(prefix="bench-copy-")) / "rows.csv"
    with csv_path.open("wb") as out:
        for f in manifest.files:
            table = _csv_ready(_parquet(lake, f["key"]).read(columns=names))
            pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=False))
    reference = f"{TABLE}_psql"
    with pg_connect(settings.postgres) as conn:
        conn.execute(
            sql.SQL("create table {} (like {} including defaults)").format(
                sql.Identifier(SCHEMA, reference), sql.Identifier(SCHEMA, TABLE)
            )
        )
    pg = settings.postgres
    psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    command = (
        f"\\copy {SCHEMA}.{reference} ({', '.join(names)}) from '{csv_path}' with (format csv)"
    )
    started = time.perf_counter()
    subprocess.run(
        [psql, "-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-d", pg.database, "-q",
         "-v", "ON_ERROR_STOP=1", "-c", command],
        env={**os.environ, "PGPASSWORD": pg.password},
        check=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    csv_path.unlink()
    return seconds


def spark_floor_seconds(lake, raw_key: str, tmp: Path) -> float:
    """Seconds of ``bench/spark_floor.py`` as its own process, like the curate job."""
    started = time.perf_counter()
    floor = subprocess.run(  # noqa: S603 - our interpreter and script
        [sys.executable, "-m", "bench.spark_floor", lake.uri, raw_key, "order_date",
         f"file://{tmp}/spark-floor"],
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}, cwd=REPO_ROOT,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if floor.returncode:
        raise SystemExit(f"bench: the Spark floor failed:\n{floor.stderr[-2000:]}")
    return seconds


DUCKDB_TYPES = {"timestamp_ntz": "TIMESTAMP", "timestamp": "TIMESTAMPTZ", "string": "VARCHAR"}


def duckdb_seconds(lake, raw_key: str, tmp: Path, settings: Settings) -> float:
    """Seconds for DuckDB to read the raw run, cast, keep the latest row per key and write zstd
    Parquet partitioned by month (threads: Spark's cores)."""
    import duckdb

    manifest = read_raw(lake, raw_key)
    raw_types = {c["name"]: "VARCHAR" for c in manifest.columns}  # cast from the JSON text
    spark_types = {c["name"]: c["types"]["spark"] for c in manifest.columns}
    typed = ", ".join(
        f"CAST({name} AS {DUCKDB_TYPES.get(t, t)}) AS {name}" for name, t in spark_types.items()
    )
    paths = [str(lake.path(f["key"])) for f in manifest.files_of("data")]
    cores = settings.spark_master.removeprefix("local[").rstrip("]")
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {int(cores) if cores.isdigit() else os.cpu_count()}")
    relation = con.read_json(paths, columns=raw_types, format="newline_delimited")
    con.register("raw_rows", relation)
    out = tmp / "duckdb"
    con.execute(
        f"COPY (SELECT *, strftime(order_date, '%Y-%m') AS month FROM "  # noqa: S608 - ours
        f"(SELECT {typed} FROM raw_rows) QUALIFY row_number() OVER "
        f"(PARTITION BY order_id ORDER BY updated_at DESC) = 1) TO '{out}' "
        "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (month))"
    )
    con.close()
    return time.perf_counter() - started


def main() -> int:
    settings = fresh_warehouse(Settings.load())
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    config_path = tmp / "bench.yml"
    config_path.write_text(
        f"name: bench\ndatabase: {DATABASE}\nwarehouse_schema: {SCHEMA}\n"
        f"tables:\n  {TABLE}:\n    cursor: updated_at\n    partition_column: order_date\n"
    )
    config = load_source(config_path)
    lake = open_lake(f"file://{tmp}/lake")
    stages: dict[str, float] = {}

    started = time.perf_counter()
    extracted = extract_table(config, settings.mysql, lake, TABLE, database=DATABASE)
    stages["extract"] = time.perf_counter() - started

    started = time.perf_counter()
    crawl_table(lake, LocalCatalog(lake), config.name, TABLE)
    stages["crawl"] = time.perf_counter() - started

    started = time.perf_counter()
    job = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "glue_jobs" / "curate_raw.py"),
            "--JOB_NAME",
            "bench",
            "--LAKE_URI",
            lake.uri,
            "--SOURCE",
            config.name,
            "--SOURCE_CONFIG",
            str(config_path),
        ],
        env={**os.environ, **settings.to_env(), "SPARK_LOCAL_IP": "127.0.0.1"},
        capture_output=True,
        text=True,
        check=False,
    )
    stages["curate"] = time.perf_counter() - started
    if job.returncode:
        raise SystemExit(f"bench: curate job failed:\n{job.stderr[-2000:]}")
    batch = next(
        json.loads(line)
        for line in job.stdout.splitlines()
        if line.startswith('{"event": "batch_curated"')
    )

    raw_key = layout.raw_manifests(lake, config.name, TABLE)[-1]
    floor = spark_floor_seconds(lake, raw_key, tmp)
    duck = duckdb_seconds(lake, raw_key, tmp, settings)

    started = time.perf_counter()
    (loaded,) = load_into_postgres(settings.postgres, lake, config.name, SCHEMA, [TABLE])
    stages["load"] = time.perf_counter() - started

    reference = psql_copy_reference(settings, lake, config.name)
    total = sum(stages.values())
    rows = extracted.rows
    results = {
        "rows": rows,
        "curated": batch["curated"],
        "rejected": batch["rejected"],
        "loaded": loaded.rows_loaded,
        "stages": {
            name: {
                "seconds": round(s, 2),
                "rows_per_s": round(rows / s),
                "share": round(s / total, 3),
            }
            for name, s in stages.items()
        },
        "total_seconds": round(total, 2),
        "curate_references": {
            "what": "same raw files, same run; each engine's own process or session start "
            "included, as for the curate job",
            "spark_floor": {"seconds": round(floor, 2), "rows_per_s": round(rows / floor)},
            "duckdb_dedupe": {"seconds": round(duck, 2), "rows_per_s": round(rows / duck)},
            "curate_vs_spark_floor": round(floor / stages["curate"], 2),
            "curate_vs_extract": round(stages["extract"] / stages["curate"], 2),
            "curate_vs_duckdb": round(duck / stages["curate"], 2),
            "targets": {"curate_vs_spark_floor": 0.8, "curate_vs_extract": 0.25},
        },
        "curate_counts": {
            k: batch[k] for k in ("extracted", "curated", "rejected", "duplicates_removed")
        },
        "load_vs_psql_copy": {
            "psql_copy_seconds": round(reference, 2),
            "loader_seconds": round(stages["load"], 2),
            "ratio": round(reference / stages["load"], 2),
        },
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for name, stage in results["stages"].items():
        print(
            f"{name:<8} {stage['rows_per_s']:>10,} rows/s  {stage['seconds']:>7.2f} s  "
            f"{stage['share']:>6.1%} of the run"
        )
    ratio = results["load_vs_psql_copy"]["ratio"]
    print(
        f"load     ours {rows / stages['load']:,.0f} rows/s vs psql \\copy of the same rows as CSV "
        f"{rows / reference:,.0f} rows/s: ratio {ratio:.2f}x (target >= 0.80)"
    )
    refs = results["curate_references"]
    print(
        f"curate   ours {rows / stages['curate']:,.0f} rows/s; Spark floor (read, cast, write) "
        f"{refs['spark_floor']['rows_per_s']:,} rows/s: {refs['curate_vs_spark_floor']:.2f}x "
        f"(target >= 0.80); vs extract {refs['curate_vs_extract']:.2f}x (target >= 0.25); "
        f"DuckDB with dedupe {refs['duckdb_dedupe']['rows_per_s']:,} rows/s: ours "
        f"{refs['curate_vs_duckdb']:.2f}x"
    )
    print(
        f"pipeline {rows:,} rows in {total:.1f} s (curate: Spark local mode, 2 cores); "
        f"curated {batch['curated']:,}, rejected {batch['rejected']:,}, loaded "
        f"{loaded.rows_loaded:,} -> {RESULTS.relative_to(REPO_ROOT)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
