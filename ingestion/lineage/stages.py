"""The datasets of the ingest stages, as their OpenLineage events carry them: a table's MySQL
source, raw zone, curated zone and staging table, each with its schema, and each output with the
column lineage from the stage's input (the curate's from the contract: trimmed, lowercased,
hashed, moved to UTC, zero dates made NULL).

Columns come from the manifests the stages commit, so a dataset's schema is what the stage
actually wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ingestion.config.settings import Endpoint, Settings
from ingestion.config.source import SourceConfig
from ingestion.contract.names import warehouse_name
from ingestion.lake import layout, manifests
from ingestion.lake.manifests import CuratedManifest, RawManifest
from ingestion.lake.storage import Lake
from ingestion.lineage.contract import contract_column, newest_raw, table_contract
from ingestion.lineage.runs import (
    DatasetRef,
    InputColumn,
    LineageEmitter,
    RunHandle,
    lake_dataset,
    mysql_dataset,
    warehouse_dataset,
)


def job_name(source: str, table: str, stage: str) -> str:
    return f"{source}.{table}.{stage}"


def newest_curated(lake: Lake, source: str, table: str) -> CuratedManifest | None:
    keys = layout.curated_manifests(lake, source, table)
    return manifests.read_curated(lake, keys[-1]) if keys else None


def source_dataset(
    endpoint: Endpoint, database: str, table: str, raw: RawManifest | None = None
) -> DatasetRef:
    dataset = mysql_dataset(endpoint, database, table)
    if raw is not None:
        dataset.fields = [(c["name"], c["column_type"]) for c in raw.columns]
    return dataset


def raw_dataset(
    lake_uri: str, source: str, table: str, raw: RawManifest | None = None,
    upstream: DatasetRef | None = None,
) -> DatasetRef:  # fmt: skip
    """The raw zone's folder of a table; with a run's manifest, its schema and (given the MySQL
    table) each raw column's MySQL column."""
    dataset = lake_dataset(lake_uri, layout.raw_table_prefix(source, table))
    if raw is None:
        return dataset
    # raw records keep MySQL's names (the curate job renames them as it reads)
    dataset.fields = [(c["name"], c["types"]["raw"]) for c in raw.columns]
    dataset.rows = raw.records
    if upstream is not None:
        dataset.columns = {
            c["name"]: [InputColumn(upstream.namespace, upstream.name, c["name"])]
            for c in raw.columns
        }
    return dataset


def curated_dataset(
    lake_uri: str, config: SourceConfig, table: str, raw: RawManifest | None = None,
    curated: CuratedManifest | None = None, upstream: DatasetRef | None = None,
) -> DatasetRef:  # fmt: skip
    """The curated zone's folder of a table; with its manifests, the schema written and each
    column's raw column with the contract's rules on the way."""
    dataset = lake_dataset(lake_uri, layout.curated_table_prefix(config.name, table))
    if curated is None:
        return dataset
    dataset.fields = [(c["name"], c["spark"]) for c in curated.columns]
    if raw is not None and upstream is not None:
        contract = table_contract(config, table, raw)
        for name, _ in dataset.fields:
            if name in contract.columns:
                found = contract_column(contract, name)
                dataset.columns[name] = [
                    InputColumn(upstream.namespace, upstream.name, found.column, found.kinds)
                ]
    return dataset


def staging_dataset(
    settings: Settings, warehouse: str, database: str, schema: str, table: str,
    curated: CuratedManifest | None = None, upstream: DatasetRef | None = None,
) -> DatasetRef:  # fmt: skip
    """The staging table (``warehouse`` postgres or redshift); with the curated manifest, its
    columns, each from its curated column."""
    dataset = warehouse_dataset(settings, warehouse, database, schema, warehouse_name(table))
    if curated is None:
        return dataset
    dataset.fields = [(c["name"], c[warehouse]) for c in curated.columns]
    if upstream is not None:
        dataset.columns = {
            name: [InputColumn(upstream.namespace, upstream.name, name)]
            for name, _ in dataset.fields
        }
    return dataset


@contextmanager
def extract_run(
    emitter: LineageEmitter, lake: Lake, lake_uri: str, endpoint: Endpoint, database: str,
    source: str, table: str,
) -> Iterator[dict]:  # fmt: skip
    """One table's extract as an OpenLineage run; the block puts the committed raw manifest's
    key in the dict it is given (``manifest_key``)."""
    outcome: dict = {}
    if not emitter.enabled:  # nothing to name: the client is not even imported
        yield outcome
        return
    with emitter.run(
        job_name(source, table, "extract"), [mysql_dataset(endpoint, database, table)]
    ) as run:
        yield outcome
        key = outcome.get("manifest_key")
        raw = manifests.read_raw(lake, key) if key else None
        run.inputs = [source_dataset(endpoint, database, table, raw)]
        run.outputs = [raw_dataset(lake_uri, source, table, raw, upstream=run.inputs[0])]


@contextmanager
def curate_run(
    emitter: LineageEmitter, lake: Lake, lake_uri: str, config: SourceConfig, table: str
) -> Iterator[dict]:
    """One table's curate as an OpenLineage run; the block puts the rows it curated in the dict
    it is given (``rows``)."""
    outcome: dict = {}
    if not emitter.enabled:
        yield outcome
        return
    raw_folder = raw_dataset(lake_uri, config.name, table)
    with emitter.run(job_name(config.name, table, "curate"), [raw_folder]) as run:
        yield outcome
        raw = newest_raw(lake, config.name, table)
        curated = newest_curated(lake, config.name, table)
        run.inputs = [raw_dataset(lake_uri, config.name, table, raw)]
        output = curated_dataset(lake_uri, config, table, raw, curated, run.inputs[0])
        output.rows = outcome.get("rows")
        run.outputs = [output]


def start_loads(
    emitter: LineageEmitter, lake_uri: str, source: str, tables: list[str]
) -> dict[str, RunHandle]:
    """The load of each table starts (one job loads them all)."""
    if not emitter.enabled:
        return {}
    return {
        table: emitter.start(
            job_name(source, table, "load"),
            [lake_dataset(lake_uri, layout.curated_table_prefix(source, table))],
        )
        for table in tables
    }


def finish_loads(
    emitter: LineageEmitter, runs: dict[str, RunHandle], settings: Settings, lake: Lake,
    lake_uri: str, config: SourceConfig, warehouse: str, database: str, schema: str,
    rows: dict[str, int], errors: dict[str, str],
) -> None:  # fmt: skip
    """Each table's load ends: FAIL with its error, or COMPLETE with the staging table."""
    for table, run in runs.items():
        if table in errors:
            emitter.fail(run, errors[table])
            continue
        if emitter.enabled:
            curated = newest_curated(lake, config.name, table)
            run.inputs = [curated_dataset(lake_uri, config, table, curated=curated)]
            output = staging_dataset(
                settings, warehouse, database, schema, table, curated, run.inputs[0]
            )
            output.rows = rows.get(table, 0)
            run.outputs = [output]
        emitter.complete(run)
