"""The warehouse boundary, Redshift backend: the Redshift Data API (boto3 ``redshift-data``).

Works for provisioned clusters (``JLR_REDSHIFT_CLUSTER``) and Serverless workgroups
(``JLR_REDSHIFT_WORKGROUP``), authenticated by a Secrets Manager secret
(``JLR_REDSHIFT_SECRET_ARN``) or as an IAM identity (optionally ``JLR_REDSHIFT_DB_USER`` on a
cluster). COPY reads the curated Parquet from S3 with the role ``JLR_REDSHIFT_COPY_ROLE_ARN``.

Per batch: reads and DDL are single statements with bound parameters; the load itself is one
``BatchExecuteStatement`` (one transaction; see ``redshift_sql.load_transaction``). A failed
statement is reported with the step that failed and, for COPY, the rows of
``sys_load_error_detail`` that explain it. Every SQL text comes from ``redshift_sql``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from ingestion.aws import client as aws_client
from ingestion.contract.names import warehouse_name
from ingestion.errors import ConfigError, LoadError
from ingestion.lake import layout
from ingestion.lake.manifests import CuratedManifest
from ingestion.lake.storage import Lake
from ingestion.warehouse import redshift_sql as rsql
from ingestion.warehouse.interface import LoadResult, PendingBatch, schema_changes

TERMINAL = {"FINISHED", "FAILED", "ABORTED"}


@dataclass(frozen=True)
class RedshiftTarget:
    database: str
    copy_role_arn: str
    workgroup: str | None = None
    cluster: str | None = None
    secret_arn: str | None = None
    db_user: str | None = None
    poll_timeout_seconds: float = 3600.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RedshiftTarget:
        """The target the JLR_REDSHIFT_* settings describe (``Settings.redshift``)."""
        target = cls(
            database=env.get("JLR_REDSHIFT_DATABASE", "dev"),
            copy_role_arn=env.get("JLR_REDSHIFT_COPY_ROLE_ARN", ""),
            workgroup=env.get("JLR_REDSHIFT_WORKGROUP") or None,
            cluster=env.get("JLR_REDSHIFT_CLUSTER") or None,
            secret_arn=env.get("JLR_REDSHIFT_SECRET_ARN") or None,
            db_user=env.get("JLR_REDSHIFT_DB_USER") or None,
        )
        if bool(target.workgroup) == bool(target.cluster):
            raise ConfigError(
                "Redshift target: set exactly one of JLR_REDSHIFT_WORKGROUP (Serverless) "
                "or JLR_REDSHIFT_CLUSTER (provisioned)"
            )
        if not target.copy_role_arn.startswith("arn:"):
            raise ConfigError(
                "Redshift target: JLR_REDSHIFT_COPY_ROLE_ARN must be the ARN of the IAM role "
                "Redshift assumes to read the curated zone"
            )
        return target

    def connection_args(self) -> dict[str, str]:
        args = {"Database": self.database}
        if self.workgroup:
            args["WorkgroupName"] = self.workgroup
        else:
            args["ClusterIdentifier"] = self.cluster
        if self.secret_arn:
            args["SecretArn"] = self.secret_arn
        elif self.db_user and self.cluster:
            args["DbUser"] = self.db_user
        return args


@dataclass
class Outcome:
    status: str
    error: str = ""
    sub_statements: list[dict] = field(default_factory=list)
    query_id: int | None = None
    has_result: bool = False


class DataApi:
    """Submit, wait, fetch: the Data API's asynchronous statements as plain calls."""

    def __init__(self, target: RedshiftTarget, client=None, *, sleep=time.sleep):
        self.target = target
        self.client = client or aws_client("redshift-data")
        self.sleep = sleep
        self.last_statement_id: str | None = None

    @staticmethod
    def _error(operation: str, exc: Exception) -> LoadError:
        error = getattr(exc, "response", None)
        if error is None:  # BotoCoreError: no service answer
            return LoadError(f"Redshift Data API {operation}: {exc}")
        error = error.get("Error", {})
        return LoadError(
            f"Redshift Data API {operation}: {error.get('Code', 'error')}: "
            f"{error.get('Message', '')}".rstrip(": ")
        )

    def _call(self, operation: str, **kwargs) -> dict:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(operation, exc) from None

    def wait(self, statement_id: str) -> Outcome:
        """Poll until the statement ends (the Data API has no boto3 waiter), backing off from
        0.2 s to 5 s; cancelled past the target's timeout."""
        delay, waited = 0.2, 0.0
        while True:
            described = self._call("describe_statement", Id=statement_id)
            if described["Status"] in TERMINAL:
                return Outcome(
                    described["Status"],
                    described.get("Error", ""),
                    described.get("SubStatements", []),
                    described.get("RedshiftQueryId"),
                    bool(described.get("HasResultSet")),
                )
            if waited >= self.target.poll_timeout_seconds:
                self._call("cancel_statement", Id=statement_id)
                raise LoadError(
                    f"Redshift statement {statement_id} still {described['Status']} after "
                    f"{waited:.1f} s; cancelled"
                )
            self.sleep(delay)
            waited += delay
            delay = min(delay * 1.5, 5.0)

    def run(self, sql: str, **params: str | int) -> list[list]:
        """One statement with bound parameters; the rows of its result, if any."""
        kwargs = {**self.target.connection_args(), "Sql": sql}
        if params:
            kwargs["Parameters"] = [{"name": k, "value": str(v)} for k, v in params.items()]
        statement_id = self.last_statement_id = self._call("execute_statement", **kwargs)["Id"]
        outcome = self.wait(statement_id)
        if outcome.status != "FINISHED":
            raise LoadError(f"Redshift statement failed ({outcome.status}): {outcome.error}")
        if not outcome.has_result:
            return []
        from botocore.exceptions import BotoCoreError, ClientError

        pages = self.client.get_paginator("get_statement_result").paginate(Id=statement_id)
        try:
            return [[_value(v) for v in record] for page in pages for record in page["Records"]]
        except (ClientError, BotoCoreError) as exc:
            raise self._error("get_statement_result", exc) from None

    def run_batch(self, sqls: list[str]) -> Outcome:
        statement_id = self._call(
            "batch_execute_statement", **self.target.connection_args(), Sqls=sqls
        )["Id"]
        return self.wait(statement_id)


def _value(field_value: dict):
    if field_value.get("isNull"):
        return None
    for key in ("stringValue", "longValue", "doubleValue", "booleanValue"):
        if key in field_value:
            return field_value[key]
    return None


def _sql_type(data_type: str, length, precision, scale) -> str:
    if data_type in ("character varying", "character") and length:
        return f"{data_type}({length})"
    if data_type == "binary varying" and length:
        return f"varbyte({length})"
    if data_type == "numeric" and precision:
        return f"numeric({precision},{scale or 0})"
    return data_type


class RedshiftWarehouse:
    def __init__(self, api: DataApi, layouts: dict[str, rsql.Layout] | None = None):
        self.api = api
        self.layouts = layouts or {}
        self.new_load_id = lambda: uuid.uuid4().hex  # one per attempt: who applied a manifest

    def prepare(self) -> None:
        for statement in rsql.create_audit_table():
            self.api.run(statement)
        found = self.api.run(rsql.staging_columns(), schema_name="ops", table_name="load_audit")
        for statement in rsql.add_audit_columns({row[0] for row in found}):
            self.api.run(statement)

    def audited_manifests(self, source: str, table: str) -> set[str]:
        rows = self.api.run(
            rsql.audited_manifests(), source=source, table_name=warehouse_name(table)
        )
        return {r[0] for r in rows}

    def ensure_staging_table(self, schema: str, table: str, manifest: CuratedManifest) -> None:
        """``table``: the staging table's name (the source table's warehouse name)."""
        rows = self.api.run(rsql.staging_columns(), schema_name=schema, table_name=table)
        existing = {name: _sql_type(*types) for name, *types in rows}
        columns = manifest.columns
        if not existing:
            self.api.run(rsql.create_schema(schema))
            layout = self.layouts.get(manifest.table, rsql.Layout())
            self.api.run(rsql.create_table(schema, table, columns, manifest.primary_key, layout))
            return
        for change in schema_changes(f"{schema}.{table}", existing, columns, "redshift"):
            builder = rsql.add_column if change.kind == "add" else rsql.widen_varchar
            self.api.run(builder(schema, table, change.column))

    def write_copy_manifest(self, lake: Lake, manifest_key: str, manifest: CuratedManifest) -> str:
        """Redshift's COPY manifest next to the curated one (sizes are what Parquet COPY needs)."""
        files = [{"url": lake.url(f["key"]), "size": lake.size(f["key"])} for f in manifest.files]
        key = layout.redshift_copy_manifest(manifest_key)
        lake.put_json(key, rsql.copy_manifest(files))
        return lake.url(key)

    def load_batch(self, lake: Lake, schema: str, batch: PendingBatch) -> LoadResult:
        started = time.perf_counter()
        manifest_key, manifest, superseded = batch.key, batch.manifest, batch.superseded
        table, batch_id = manifest.table, manifest.batch_id
        staging = warehouse_name(table)
        if not superseded:
            self.ensure_staging_table(schema, staging, manifest)
        copy_url = None if superseded else self.write_copy_manifest(lake, manifest_key, manifest)
        load_id = self.new_load_id()
        steps = rsql.load_transaction(
            schema=schema,
            table=staging,
            columns=manifest.columns,
            primary_key=manifest.primary_key,
            mode=manifest.mode,
            copy_manifest_url=copy_url,
            iam_role_arn=self.api.target.copy_role_arn,
            manifest_key=manifest_key,
            manifest=manifest,
            load_id=load_id,
            superseded=superseded,
        )
        outcome = self.api.run_batch([s.sql for s in steps])
        if outcome.status != "FINISHED":
            raise LoadError(self._explain(manifest_key, schema, steps, outcome))
        rows = self.api.run(rsql.audit_row(), manifest_key=manifest_key)
        if not rows:
            raise LoadError(f"{manifest_key}: the load finished but left no audit row")
        owner, status, loaded, deleted, tombstoned = rows[0]
        if owner != load_id:
            return LoadResult(table, batch_id, manifest_key, "skipped", 0, 0, 0.0)
        return LoadResult(
            table,
            batch_id,
            manifest_key,
            status,
            int(loaded),
            int(deleted),
            time.perf_counter() - started,
            int(tombstoned),
        )

    def _explain(self, key: str, schema: str, steps: list, outcome: Outcome) -> str:
        failed = next(
            (
                (i, sub)
                for i, sub in enumerate(outcome.sub_statements)
                if sub.get("Status") in ("FAILED", "ABORTED")
            ),
            None,
        )
        where = ""
        details = ""
        if failed is not None and failed[0] < len(steps):
            index, sub = failed
            step = steps[index].name
            where = f" at step {index + 1} ({step})"
            if step == "count check":
                where += ": COPY did not bring every row the curated manifest lists"
            if step == "copy" and sub.get("RedshiftQueryId"):
                errors = self.api.run(rsql.load_errors(), query_id=sub["RedshiftQueryId"])
                details = "".join(
                    f"\n  {f}:{line} column {col}: [{code}] {str(msg).strip()}"
                    for f, line, col, code, msg in errors
                )
        return (
            f"loading {key} into schema {schema} failed{where} and was rolled back: "
            f"{outcome.error or outcome.status}{details}"
        )
