"""``python -m ingestion dbt <command> [args]``: dbt, with OpenLineage run events.

dbt runs in this process (``dbtRunner``, the programmatic entry point dbt documents). The
invocation is one run (job ``dbt.<command>``); when it ends, each node that wrote a relation
(model, snapshot, seed) becomes a run of its own, a child of the invocation, with START and
COMPLETE or FAIL at the times dbt recorded, its input relations (the sources and models it
selects from), its output relation with its schema, the column lineage between them read from
its compiled SQL (``ingestion.lineage.sql``), and the SQL itself. The column types come from a
catalog read after the run (``dbt docs generate --no-compile``: one query of the warehouse's
information schema, the compiled SQL of the run kept).

Plain ``dbt build`` works as ever; it only sends no events. The exit code is dbt's: 0 done,
1 a node failed, 2 dbt itself stopped.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from ingestion.config.settings import Settings
from ingestion.lineage.columns import schema_of
from ingestion.lineage.runs import DatasetRef, InputColumn, LineageEmitter, warehouse_dataset
from ingestion.lineage.sql import ROWS, model_lineage

WRITES = ("model", "snapshot", "seed")
COMMANDS_THAT_WRITE = {"build", "run", "seed", "snapshot"}
# the options a catalog read must share with the command (where dbt is, and what it targets)
SHARED_OPTIONS = ("--target-path", "--target", "-t", "--profiles-dir", "--project-dir")


def run_dbt(args: list[str], settings: Settings) -> int:
    from dbt.cli.main import dbtRunner

    emitter = LineageEmitter.from_settings(settings)
    command = args[0] if args else "build"
    invocation = emitter.start(f"dbt.{command}", [], integration="DBT", job_type="JOB")
    emitter.parent = (invocation.job, invocation.run_id)
    result = dbtRunner().invoke(args)
    if emitter.enabled and command in COMMANDS_THAT_WRITE:
        try:
            dbtRunner().invoke(["docs", "generate", "--no-compile", "--quiet", *_shared(args)])
            node_events(emitter, settings, _target_path(args))
        except Exception as exc:  # noqa: BLE001 - lineage never changes dbt's outcome
            print(f"lineage: no dbt node events ({type(exc).__name__}: {exc})", file=sys.stderr)
    if result.success:
        emitter.complete(invocation, integration="DBT", job_type="JOB")
        return 0
    error = str(result.exception) if result.exception else "dbt reported failed nodes"
    emitter.fail(invocation, error, integration="DBT", job_type="JOB")
    return 2 if result.exception else 1


def node_events(emitter: LineageEmitter, settings: Settings, target: Path) -> int:
    """START and COMPLETE/FAIL for each node of the last run that wrote a relation; returns how
    many nodes were reported."""
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    catalog_path = target / "catalog.json"
    catalog = json.loads(catalog_path.read_text(encoding="utf-8")) if catalog_path.exists() else {}
    kind = "redshift" if manifest["metadata"].get("adapter_type") == "redshift" else "postgres"
    schema = schema_of(catalog)
    nodes = {**manifest["nodes"], **manifest["sources"]}
    reported = 0
    for result in results:
        node = nodes.get(result["unique_id"])
        if node is None or node["resource_type"] not in WRITES or result["status"] == "skipped":
            continue
        timing = {t["name"]: t for t in result.get("timing", [])}.get("execute", {})
        output = _dataset(settings, kind, node, schema)
        inputs = [
            _dataset(settings, kind, nodes[key], schema)
            for key in node.get("depends_on", {}).get("nodes", [])
            if key in nodes and nodes[key]["resource_type"] in (*WRITES, "source")
        ]
        sql = node.get("compiled_code") if node["resource_type"] != "seed" else None
        if sql:
            output.columns = _column_inputs(settings, kind, output, sql, schema)
        run = emitter.start(
            _job_name(node), inputs, integration="DBT", job_type=node["resource_type"].upper(),
            sql=sql, when=_time(timing.get("started_at")),
        )  # fmt: skip
        run.outputs = [output]
        ended = _time(timing.get("completed_at"))
        job = {"integration": "DBT", "job_type": node["resource_type"].upper(), "sql": sql}
        if result["status"] in ("error", "fail", "runtime error"):
            emitter.fail(run, result.get("message") or "failed", when=ended, **job)
        else:
            output.rows = _rows(result)
            emitter.complete(run, when=ended, **job)
        reported += 1
    return reported


def _job_name(node: dict) -> str:
    return f"{node['package_name']}.{node['resource_type']}.{node['name']}"


def _dataset(settings: Settings, kind: str, node: dict, schema: dict) -> DatasetRef:
    identifier = node.get("alias") or node.get("identifier") or node["name"]
    dataset = warehouse_dataset(settings, kind, node["database"], node["schema"], identifier)
    columns = schema.get(node["database"], {}).get(node["schema"], {}).get(identifier, {})
    dataset.fields = list(columns.items())
    return dataset


def _column_inputs(
    settings: Settings, kind: str, output: DatasetRef, sql: str, schema: dict
) -> dict[str, list[InputColumn]]:
    """Each output column's input columns in the relations the node's SQL reads."""
    lineage = model_lineage(sql, schema, "redshift" if kind == "redshift" else "postgres")
    columns: dict[str, list[InputColumn]] = {}
    for column, inputs in lineage.columns.items():
        found = []
        for item in inputs:
            parent = warehouse_dataset(settings, kind, *item.relation)
            if (parent.namespace, parent.name) == (output.namespace, output.name):
                continue  # an incremental model reading its own rows
            if item.column != ROWS:
                found.append(InputColumn(parent.namespace, parent.name, item.column, item.kinds))
        columns[column] = found
    return columns


def _rows(result: dict) -> int | None:
    affected = (result.get("adapter_response") or {}).get("rows_affected")
    return affected if isinstance(affected, int) and affected >= 0 else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _target_path(args: list[str]) -> Path:
    for i, arg in enumerate(args):
        if arg == "--target-path" and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--target-path="):
            return Path(arg.split("=", 1)[1])
    return Path("target")


def _shared(args: list[str]) -> list[str]:
    shared = []
    for i, arg in enumerate(args):
        if arg in SHARED_OPTIONS and i + 1 < len(args):
            shared += [arg, args[i + 1]]
        elif arg.split("=", 1)[0] in SHARED_OPTIONS and "=" in arg:
            shared.append(arg)
    return shared
