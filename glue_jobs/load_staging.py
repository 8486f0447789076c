"""Glue job 2: curated Parquet batches -> warehouse staging tables, exactly once.

Arguments (Glue's ``--NAME value`` form):
  --JOB_NAME          job name (Glue passes it)
  --LAKE_URI          lake root: s3://bucket/prefix on AWS, file:///dir locally
  --SOURCE            source name, e.g. jlr_ops
  --WAREHOUSE_SCHEMA  schema of the staging tables, e.g. jlr_ops_staging
  --TABLES            comma-separated table names

Locally the warehouse is PostgreSQL, reached through JLR_PG_HOST / _PORT / _USER / _PASSWORD /
_DATABASE. Prints one JSON line per batch and a final summary line.
"""

from __future__ import annotations

import json
import sys

from glue_jobs.glue_args import resolve_args
from ingestion.errors import PlatformError
from ingestion.lake import open_lake
from ingestion.settings import Settings
from ingestion.warehouse import load_pending


def main(argv: list[str] | None = None) -> int:
    try:
        args = resolve_args(argv, ["JOB_NAME", "LAKE_URI", "SOURCE", "WAREHOUSE_SCHEMA", "TABLES"])
        tables = [t for t in args["TABLES"].split(",") if t]
        results = load_pending(
            Settings.load().postgres,
            open_lake(args["LAKE_URI"]),
            args["SOURCE"],
            args["WAREHOUSE_SCHEMA"],
            tables,
        )
        for result in results:
            print(json.dumps({"event": "batch_" + result.status, **result.as_dict()}), flush=True)
        print(json.dumps({"event": "load_finished", "batches": len(results)}), flush=True)
        return 0
    except PlatformError as exc:
        print(json.dumps({"event": "load_failed", "error": str(exc)}), flush=True)
        print(f"load: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
