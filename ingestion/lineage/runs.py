"""OpenLineage run events: each ingest stage of each table (extract, curate, load) and each dbt
node that writes a relation tells START, then COMPLETE or FAIL, with its input and output
datasets, their schemas and the column lineage between them (``openlineage-python``).

Datasets are named by OpenLineage's naming rules (the client's ``naming`` helpers), so the
stages chain by name: the MySQL table (``mysql://host:port``, ``db.table``) is the extract's
input; the raw zone's table folder (``file`` + path locally, ``s3://bucket`` + key on AWS) its
output and the curate's input; the curated folder the curate's output and the load's input; the
staging table (``postgres://host:port`` or ``redshift://cluster.region:port``,
``database.schema.table``) the load's output and a dbt source; each model the output of its
dbt node.

Where the events go (``JLR_OPENLINEAGE_TRANSPORT``, JSON, any transport the client has):

* unset, locally: files of JSON lines under ``<JLR_LOCAL_DIR>/lineage/`` (``JLR_LINEAGE_DIR``),
  one file per process, so concurrent runs never interleave;
* ``{"type": "http", "url": "https://marquez.example:5000", "auth": {"type": "api_key",
  "apiKey": "…"}}``: an OpenLineage HTTP endpoint (Marquez, DataHub …);
* ``{"type": "amazon_datazone_api", "domainId": "dzd_…"}``: Amazon DataZone / SageMaker
  Unified Studio lineage;
* ``none``: no events. On AWS nothing is sent unless a transport is named.

Lineage never stops the data: a transport that fails is reported once on stderr (without its
configuration, which may hold a key) and the run goes on.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from ingestion.config.settings import Endpoint, Runtime, Settings
from ingestion.errors import ConfigError

JOB_NAMESPACE = "jlr-data-platform"
PRODUCER = "urn:jlr-data-platform:ingestion"
PARENT_ENV = "JLR_LINEAGE_PARENT"  # "<job name> <run id>": the ingest run a job belongs to
DIRECT = "DIRECT"
IDENTITY_KINDS = {"copied", "renamed"}


@dataclass(frozen=True)
class InputColumn:
    """One input field of an output column, and what the hop did to it."""

    namespace: str
    name: str
    field: str
    kinds: tuple[str, ...] = ("copied",)


@dataclass
class DatasetRef:
    """A dataset as OpenLineage names it, with what is known of it at the time."""

    namespace: str
    name: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # (column, type)
    columns: dict[str, list[InputColumn]] = field(default_factory=dict)  # output lineage
    rows: int | None = None  # rows written (outputs)


def mysql_dataset(endpoint: Endpoint, database: str, table: str) -> DatasetRef:
    from openlineage.client.naming.dataset import MySQL

    naming = MySQL(host=endpoint.host, port=str(endpoint.port), database=database, table=table)
    return DatasetRef(naming.get_namespace(), naming.get_name())


def lake_dataset(lake_uri: str, prefix: str) -> DatasetRef:
    """A folder of the lake (a table's raw or curated zone)."""
    from openlineage.client.naming.dataset import S3, LocalFileSystem

    parsed = urlparse(lake_uri)
    if parsed.scheme == "s3":
        key = "/".join(p for p in (parsed.path.strip("/"), prefix.strip("/")) if p)
        naming = S3(bucket_name=parsed.netloc, object_key=key)
    else:
        naming = LocalFileSystem(path=str(Path(parsed.path) / prefix.strip("/")))
    return DatasetRef(naming.get_namespace(), naming.get_name())


def warehouse_dataset(
    settings: Settings, kind: str, database: str, schema: str, table: str
) -> DatasetRef:
    """A warehouse relation. ``kind`` redshift: named by the workgroup or cluster
    (JLR_REDSHIFT_WORKGROUP / _CLUSTER, else the first label of JLR_REDSHIFT_HOST) and the
    region (JLR_REDSHIFT_REGION, else read from the host name), as the load job and dbt's
    redshift target both know it; postgres: the local PostgreSQL's host and port."""
    from openlineage.client.naming.dataset import Postgres, Redshift

    if kind == "redshift":
        rs = settings.redshift
        labels = rs.get("JLR_REDSHIFT_HOST", "").split(".")
        region = rs.get("JLR_REDSHIFT_REGION") or next(
            (labels[i - 1] for i, x in enumerate(labels) if i and x.startswith("redshift")), ""
        )
        naming = Redshift(
            cluster_identifier=rs.get("JLR_REDSHIFT_WORKGROUP")
            or rs.get("JLR_REDSHIFT_CLUSTER")
            or labels[0]
            or "redshift",
            region=region or "unknown",
            port=rs.get("JLR_REDSHIFT_PORT", "5439"),
            database=database,
            schema=schema,
            table=table,
        )
    else:
        pg = settings.postgres
        naming = Postgres(
            host=pg.host, port=str(pg.port), database=database, schema=schema, table=table
        )
    return DatasetRef(naming.get_namespace(), naming.get_name())


def transport_config(settings: Settings) -> dict | None:
    """The client's transport from JLR_OPENLINEAGE_TRANSPORT; files locally when unset."""
    text = settings.openlineage_transport.strip()
    if text.lower() == "none":
        return None
    if text:
        try:
            config = json.loads(text)
        except json.JSONDecodeError:
            raise ConfigError(
                "JLR_OPENLINEAGE_TRANSPORT must be JSON (e.g. "
                '{"type": "http", "url": "https://..."}) or none'
            ) from None
        if not isinstance(config, dict) or "type" not in config:
            raise ConfigError('JLR_OPENLINEAGE_TRANSPORT needs a "type" (http, file, ...)')
        return config
    if Runtime.load().on_aws:
        return None
    directory = settings.lineage_dir
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = directory / f"{stamp}-{os.getpid()}.jsonl"
    return {"type": "file", "log_file_path": str(path), "append": True}


@dataclass
class RunHandle:
    """A started run: its id, and the outputs to report when it ends."""

    job: str
    run_id: str
    inputs: list[DatasetRef]
    outputs: list[DatasetRef] = field(default_factory=list)


class LineageEmitter:
    """Sends the run events of one process (disabled: every call does nothing)."""

    def __init__(self, transport: dict | None, parent: tuple[str, str] | None = None):
        self.parent = parent  # (job name, run id) of the run this process's runs belong to
        self._client = None
        self._warned = False
        if transport is not None:
            from openlineage.client import OpenLineageClient
            from openlineage.client.facet_v2 import set_producer

            set_producer(PRODUCER)
            self._client = OpenLineageClient(config={"transport": transport})

    @classmethod
    def from_settings(cls, settings: Settings) -> LineageEmitter:
        parent = settings.options.get(PARENT_ENV, "").split()
        return cls(transport_config(settings), tuple(parent) if len(parent) == 2 else None)

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def start(self, job: str, inputs: Sequence[DatasetRef], *, integration: str = "JLR",
              job_type: str = "TASK", sql: str | None = None,
              when: datetime | None = None) -> RunHandle:  # fmt: skip
        from openlineage.client.uuid import generate_new_uuid

        handle = RunHandle(job, str(generate_new_uuid()), list(inputs))
        self._emit("START", handle, when, integration=integration, job_type=job_type, sql=sql)
        return handle

    def complete(self, handle: RunHandle, when: datetime | None = None, **job) -> None:
        self._emit("COMPLETE", handle, when, **job)

    def fail(self, handle: RunHandle, error: str, when: datetime | None = None, **job) -> None:
        self._emit("FAIL", handle, when, error=error, **job)

    @contextmanager
    def run(self, job: str, inputs: Sequence[DatasetRef]) -> Iterator[RunHandle]:
        """START now; COMPLETE when the block ends, FAIL (with the error) when it raises."""
        handle = self.start(job, inputs)
        try:
            yield handle
        except BaseException as exc:
            self.fail(handle, str(exc) or type(exc).__name__)
            raise
        self.complete(handle)

    def _emit(self, state: str, handle: RunHandle, when: datetime | None, *,
              integration: str = "JLR", job_type: str = "TASK", sql: str | None = None,
              error: str | None = None) -> None:  # fmt: skip
        if self._client is None:
            return
        try:
            event = _run_event(self, state, handle, when, integration, job_type, sql, error)
            self._client.emit(event)
        except Exception as exc:  # noqa: BLE001 - lineage never stops the data
            if not self._warned:
                self._warned = True
                print(
                    f"lineage: an OpenLineage event could not be sent ({type(exc).__name__}); "
                    "the run goes on without lineage events",
                    file=sys.stderr,
                )


def _run_event(emitter, state, handle, when, integration, job_type, sql, error):
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import (
        error_message_run,
        job_type_job,
        output_statistics_output_dataset,
        parent_run,
        sql_job,
    )

    run_facets = {}
    if emitter.parent and emitter.parent[1] != handle.run_id:
        parent_job, parent_id = emitter.parent
        run_facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent_id),
            job=parent_run.Job(namespace=JOB_NAMESPACE, name=parent_job),
        )
    if error is not None:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="python"
        )
    job_facets = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration=integration, jobType=job_type
        )
    }
    if sql:
        job_facets["sql"] = sql_job.SQLJobFacet(query=sql)
    inputs = [InputDataset(d.namespace, d.name, facets=_dataset_facets(d)) for d in handle.inputs]
    outputs = []
    for d in handle.outputs:
        facets = _dataset_facets(d)
        if d.columns:
            facets["columnLineage"] = _column_lineage(d)
        stats = {}
        if d.rows is not None and state == "COMPLETE":
            stats["outputStatistics"] = (
                output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=d.rows)
            )
        outputs.append(OutputDataset(d.namespace, d.name, facets=facets, outputFacets=stats))
    return RunEvent(
        eventType=getattr(RunState, state),
        eventTime=(when or datetime.now(UTC)).isoformat(),
        run=Run(runId=handle.run_id, facets=run_facets),
        job=Job(namespace=JOB_NAMESPACE, name=handle.job, facets=job_facets),
        inputs=inputs,
        outputs=outputs,
        producer=PRODUCER,
    )


def _dataset_facets(dataset: DatasetRef) -> dict:
    from openlineage.client.facet_v2 import schema_dataset

    if not dataset.fields:
        return {}
    return {
        "schema": schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=name, type=kind)
                for name, kind in dataset.fields
            ]
        )
    }


def _column_lineage(dataset: DatasetRef):
    from openlineage.client.facet_v2 import column_lineage_dataset as cl

    return cl.ColumnLineageDatasetFacet(
        fields={
            column: cl.Fields(
                inputFields=[
                    cl.InputField(
                        namespace=i.namespace,
                        name=i.name,
                        field=i.field,
                        transformations=[_transformation(i.kinds)],
                    )
                    for i in inputs
                ]
            )
            for column, inputs in dataset.columns.items()
            if inputs
        }
    )


def _transformation(kinds: Sequence[str]):
    """OpenLineage's words for a hop: IDENTITY (copied, renamed), AGGREGATION, or
    TRANSFORMATION (anything else; ``masking`` when it hashed)."""
    from openlineage.client.facet_v2 import column_lineage_dataset as cl

    if set(kinds) <= IDENTITY_KINDS:
        subtype = "IDENTITY"
    elif "aggregated" in kinds:
        subtype = "AGGREGATION"
    else:
        subtype = "TRANSFORMATION"
    return cl.Transformation(
        type=DIRECT, subtype=subtype, description=", ".join(kinds), masking="hashed" in kinds
    )
