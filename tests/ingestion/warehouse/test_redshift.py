"""The Redshift backend: every statement pinned (golden file) and parsed by sqlfluff's Redshift
dialect; the Data API calls checked against moto's server where moto implements them, and the
whole load flow run through botocore's Stubber, which validates every request against the Data
API's service model (moto has no BatchExecuteStatement and never finishes a statement)."""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from sqlfluff.core import FluffConfig, Linter

from ingestion.errors import ConfigError, LoadError
from ingestion.lake import manifests
from ingestion.lake.manifests import Counts, CuratedManifest
from ingestion.lake.storage import S3Lake
from ingestion.warehouse import redshift_sql as rsql
from ingestion.warehouse.interface import (
    AUDIT_COLUMNS,
    PendingBatch,
    capture_columns,
    load_pending,
)
from ingestion.warehouse.redshift import DataApi, RedshiftTarget, RedshiftWarehouse

GOLDEN = Path(__file__).parent / "golden" / "redshift_statements.sql"
KEY = "curated/jlr_ops/items/batch=20261124T080000Z/_manifest.json"
ROLE = "arn:aws:iam::123456789012:role/jlr-redshift-copy"
COLUMNS = [
    {"name": "id", "redshift": "bigint", "nullable": False},
    {"name": "amount", "redshift": "decimal(12,2)", "nullable": True},
    {"name": "note", "redshift": "varchar(80)", "nullable": True},
    {"name": "doc", "redshift": "super", "nullable": True},
    {"name": "payload", "redshift": "varbyte(16)", "nullable": True},
    {"name": "updated_at", "redshift": "timestamptz", "nullable": False},
    {"name": "_batch_id", "redshift": "varchar(32)", "nullable": False},
    {"name": "_is_deleted", "redshift": "boolean", "nullable": False},
]
MANIFEST = CuratedManifest(
    source="jlr_ops",
    table="items",
    batch_id="20261124T080000Z",
    mode="incremental",
    primary_key=["id"],
    columns=COLUMNS,
    files=[
        {"key": "curated/jlr_ops/items/batch=20261124T080000Z/part-0.parquet", "rows": 3},
        {"key": "curated/jlr_ops/items/batch=20261124T080000Z/part-1.parquet", "rows": 2},
    ],
    counts=Counts(extracted=6, curated=5, rejected=1, duplicates_removed=0),
)


CAPTURE = {
    "position": {"file": "mariadb-bin.000012", "pos": 4711},
    "events": {"c": 3, "u": 2, "d": 1},
    "lag_seconds": 12.5,
}


def test_the_audit_row_carries_a_cdc_batchs_position_lag_and_events():
    assert capture_columns(CAPTURE) == ("mariadb-bin.000012:4711", 12.5, 3, 2, 1)
    assert capture_columns(None) == (None,) * 5
    (audit,) = [s.sql for s in load_steps("cdc", capture=CAPTURE) if s.name == "audit"]
    assert "'mariadb-bin.000012:4711', 12.5, 3, 2, 1 where" in audit
    assert rsql.add_audit_columns({name for name, _, _ in AUDIT_COLUMNS}) == []


SPATIAL = [*COLUMNS[:2], {"name": "site", "redshift": "geometry", "nullable": True}]


def load_steps(
    mode="incremental",
    superseded=False,
    load_id="0f" * 16,
    primary_key=("id",),
    columns=COLUMNS,
    capture=None,
):
    return rsql.load_transaction(
        schema="jlr_ops_staging",
        table="items",
        columns=columns,
        primary_key=list(primary_key),
        mode=mode,
        copy_manifest_url="s3://jlr-lake/curated/jlr_ops/items/batch=x/_redshift_copy.json",
        iam_role_arn=ROLE,
        manifest_key=KEY,
        manifest=replace(MANIFEST, mode=mode, capture=capture),
        load_id=load_id,
        superseded=superseded,
    )


def every_statement() -> list[tuple[str, str]]:
    named = [(f"audit table {i}", s) for i, s in enumerate(rsql.create_audit_table(), 1)]
    named += [
        ("create schema", rsql.create_schema("jlr_ops_staging")),
        (
            "create table (defaults)",
            rsql.create_table("jlr_ops_staging", "items", COLUMNS, ["id"], rsql.Layout()),
        ),
        (
            "create table (keyless)",
            rsql.create_table("jlr_ops_staging", "items", COLUMNS, [], rsql.Layout()),
        ),
        (
            "create table (dist and sort keys)",
            rsql.create_table(
                "jlr_ops_staging", "items", COLUMNS, ["id"], rsql.Layout("id", ("updated_at",))
            ),
        ),
        ("add column", rsql.add_column("jlr_ops_staging", "items", COLUMNS[2])),
        ("widen varchar", rsql.widen_varchar("jlr_ops_staging", "items", COLUMNS[2])),
        ("audited manifests", rsql.audited_manifests()),
        ("audit row", rsql.audit_row()),
        ("staging columns", rsql.staging_columns()),
        ("load errors", rsql.load_errors()),
    ]
    modes = (("incremental", False), ("full", False), ("full", True), ("append", False))
    for mode, superseded in modes:
        label = "superseded" if superseded else mode
        named += [(f"{label} load: {s.name}", s.sql) for s in load_steps(mode, superseded)]
    cdc = load_steps("cdc", capture=CAPTURE)
    named += [(f"cdc load: {s.name}", s.sql) for s in cdc if s.name == "audit"]
    older = {name for name, _, _ in AUDIT_COLUMNS[:-5]}  # an audit table from before cdc
    named += [(f"audit column {i}", s) for i, s in enumerate(rsql.add_audit_columns(older), 1)]
    spatial = load_steps(columns=SPATIAL)  # staged as VARCHAR, converted on insert
    named += [
        (f"spatial: {s.name}", s.sql) for s in spatial if s.name in ("create temp table", "insert")
    ]
    named.append(
        ("create table (spatial)", rsql.create_table("s", "sites", SPATIAL, ["id"], rsql.Layout()))
    )
    composite = load_steps(primary_key=("id", "note"))
    named += [(f"composite key: {s.name}", s.sql) for s in composite if "deletions" in s.name]
    return named


def test_redshift_statements_match_the_golden_file():
    text = "".join(f"-- {name}\n{sql};\n\n" for name, sql in every_statement())
    if os.environ.get("JLR_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8"), (
        "Redshift SQL changed: review the diff, then JLR_UPDATE_GOLDEN=1 pytest this test"
    )


def test_every_redshift_statement_parses_with_sqlfluffs_redshift_dialect():
    linter = Linter(config=FluffConfig(overrides={"dialect": "redshift"}))
    statements = every_statement()
    assert len(statements) > 20
    for name, sql in statements:
        # the Data API binds :name parameters; parse with a value in their place
        bound = re.sub(r"(?<![:\w]):([a-z_]+)\b", "'value'", sql)
        parsed = linter.parse_string(bound + ";\n")
        problems = [v.desc() for v in parsed.violations]
        assert parsed.tree is not None and not problems, f"{name}: {problems}\n{bound}"


def test_the_load_transaction_is_guarded_for_exactly_once():
    steps = load_steps()
    assert [s.name for s in steps] == [
        "lock",
        "create temp table",
        "copy",
        "count check",
        "audit",
        "record deletions",
        "delete",
        "insert",
    ]
    owner = f"load_id = '{'0f' * 16}'"
    assert 'where not exists (select 1 from "ops"."load_audit"' in steps[4].sql
    assert all(owner in s.sql for s in steps[5:])
    assert "= 5 then 1 else 0 end" in steps[3].sql  # COPY must bring the 5 curated rows
    assert [s.name for s in load_steps("full", superseded=True)] == ["lock", "audit"]
    # append: the rows are inserted as they are; nothing is deleted, with or without a key
    appended = load_steps("append", primary_key=())
    assert [s.name for s in appended] == [
        "lock",
        "create temp table",
        "copy",
        "count check",
        "audit",
        "insert",
    ]
    assert all(owner in s.sql for s in appended[5:])


def test_identifiers_and_values_are_checked_before_they_become_sql():
    with pytest.raises(LoadError, match="not a valid Redshift identifier"):
        rsql.ident('items"; drop table x; --')
    with pytest.raises(LoadError, match="refusing to render"):
        rsql.literal("x'); delete from ops.load_audit; --")
    assert rsql.literal(KEY) == f"'{KEY}'"


def test_target_settings_are_validated():
    with pytest.raises(ConfigError, match="exactly one of JLR_REDSHIFT_WORKGROUP"):
        RedshiftTarget.from_env({"JLR_REDSHIFT_COPY_ROLE_ARN": ROLE})
    with pytest.raises(ConfigError, match="JLR_REDSHIFT_COPY_ROLE_ARN"):
        RedshiftTarget.from_env({"JLR_REDSHIFT_WORKGROUP": "jlr"})
    target = RedshiftTarget.from_env(
        {
            "JLR_REDSHIFT_CLUSTER": "jlr-dw",
            "JLR_REDSHIFT_DB_USER": "loader",
            **{"JLR_REDSHIFT_COPY_ROLE_ARN": ROLE},
        }
    )
    assert target.connection_args() == {
        "Database": "dev",
        "ClusterIdentifier": "jlr-dw",
        "DbUser": "loader",
    }


# --- against moto's server: the operations it implements ---------------------------------------


def test_statements_reach_the_data_api_with_bound_parameters_and_time_out_cleanly(aws):
    target = RedshiftTarget("dev", ROLE, workgroup="jlr-wg", poll_timeout_seconds=0.5)
    api = DataApi(target, sleep=lambda s: None)
    with pytest.raises(LoadError, match=r"still STARTED after 0.5 s; cancelled"):
        api.run(rsql.audit_row(), manifest_key=KEY)
    client = boto3.client("redshift-data")
    # moto keeps the statements it received: find ours and check what travelled
    statement_id = api.last_statement_id
    described = client.describe_statement(Id=statement_id)
    assert described["QueryString"] == rsql.audit_row()
    assert described["QueryParameters"] == [{"name": "manifest_key", "value": KEY}]
    assert described["Status"] == "ABORTED"


def test_the_copy_manifest_lists_every_curated_file_with_its_size(s3_lake):
    lake = s3_lake
    for i, f in enumerate(MANIFEST.files):
        lake.put_bytes(f["key"], b"PAR1" + bytes(10 * (i + 1)) + b"PAR1")
    warehouse = RedshiftWarehouse(DataApi(RedshiftTarget("dev", ROLE, workgroup="jlr-wg")))
    url = warehouse.write_copy_manifest(lake, KEY, MANIFEST)
    root = f"s3://{lake.bucket}/"
    assert url == root + "curated/jlr_ops/items/batch=20261124T080000Z/_redshift_copy.json"
    assert lake.get_json(url.removeprefix(root)) == {
        "entries": [
            {
                "url": root + f["key"],
                "mandatory": True,
                "meta": {"content_length": 8 + 10 * (i + 1)},
            }
            for i, f in enumerate(MANIFEST.files)
        ]
    }


# --- the whole flow, scripted through botocore's Stubber ----------------------------------------


class ScriptedRedshift:
    """Answers the Data API the way Redshift does, request by request, after botocore has
    validated each request against the service model."""

    def __init__(self):
        self.client = boto3.client(
            "redshift-data",
            region_name="eu-west-2",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            endpoint_url="https://redshift-data.eu-west-2.amazonaws.com",
        )
        self.stub = Stubber(self.client)
        self.n = 0

    def _id(self) -> str:
        self.n += 1
        return f"00000000-0000-0000-0000-{self.n:012d}"

    def statement(self, sql=ANY, params=None, records=None):
        sid = self._id()
        expected = {"WorkgroupName": "jlr-wg", "Database": "dev", "Sql": sql}
        if params:
            expected["Parameters"] = [{"name": k, "value": v} for k, v in params.items()]
        self.stub.add_response("execute_statement", {"Id": sid}, expected)
        self.stub.add_response(
            "describe_statement",
            {"Id": sid, "Status": "FINISHED", "HasResultSet": records is not None},
            {"Id": sid},
        )
        if records is not None:
            self.stub.add_response(
                "get_statement_result",
                {
                    "Records": [[_field(v) for v in r] for r in records],
                    "TotalNumRows": len(records),
                },
                {"Id": sid},
            )

    def batch(self, sqls, status="FINISHED", error="", subs=None):
        sid = self._id()
        self.stub.add_response(
            "batch_execute_statement",
            {"Id": sid},
            {"WorkgroupName": "jlr-wg", "Database": "dev", "Sqls": sqls},
        )
        self.stub.add_response("describe_statement", {"Id": sid, "Status": "STARTED"}, {"Id": sid})
        response = {"Id": sid, "Status": status, "Error": error}
        if subs:
            response["SubStatements"] = subs
        self.stub.add_response("describe_statement", response, {"Id": sid})


def _field(value):
    if value is None:
        return {"isNull": True}
    if isinstance(value, int):
        return {"longValue": value}
    return {"stringValue": value}


@pytest.fixture
def s3_lake(aws):
    bucket = f"jlr-lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    lake = S3Lake(bucket, "/")
    for f in MANIFEST.files:
        lake.put_bytes(f["key"], b"PAR1....PAR1")
    return lake


def warehouse_for(script: ScriptedRedshift) -> RedshiftWarehouse:
    api = DataApi(
        RedshiftTarget("dev", ROLE, workgroup="jlr-wg"), script.client, sleep=lambda s: None
    )
    warehouse = RedshiftWarehouse(api, {"items": rsql.Layout("id", ("updated_at",))})
    warehouse.new_load_id = lambda: "0f" * 16
    return warehouse


def copy_url(steps):
    return next(s.sql for s in steps if s.name == "copy")


def test_a_first_load_creates_the_table_then_loads_in_one_transaction(s3_lake):
    manifests.write(s3_lake, KEY, MANIFEST)
    script = ScriptedRedshift()
    for statement in rsql.create_audit_table():
        script.statement(statement)
    # an audit table from before mode cdc: it gains the newer columns
    older = [[name, "bigint", None, 64, 0] for name, _, _ in AUDIT_COLUMNS[:-5]]
    script.statement(
        rsql.staging_columns(), {"schema_name": "ops", "table_name": "load_audit"}, records=older
    )
    for name, _, redshift in AUDIT_COLUMNS[-5:]:
        script.statement(f'alter table "ops"."load_audit" add column "{name}" {redshift}')
    script.statement(
        rsql.audited_manifests(), {"source": "jlr_ops", "table_name": "items"}, records=[]
    )
    script.statement(
        rsql.staging_columns(),
        {"schema_name": "jlr_ops_staging", "table_name": "items"},
        records=[],
    )
    script.statement(rsql.create_schema("jlr_ops_staging"))
    script.statement(
        rsql.create_table(
            "jlr_ops_staging", "items", COLUMNS, ["id"], rsql.Layout("id", ("updated_at",))
        )
    )
    steps = rsql.load_transaction(
        schema="jlr_ops_staging",
        table="items",
        columns=COLUMNS,
        primary_key=["id"],
        mode="incremental",
        copy_manifest_url=s3_lake.url(
            "curated/jlr_ops/items/batch=20261124T080000Z/_redshift_copy.json"
        ),
        iam_role_arn=ROLE,
        manifest_key=KEY,
        manifest=MANIFEST,
        load_id="0f" * 16,
    )
    script.batch([s.sql for s in steps])
    script.statement(
        rsql.audit_row(), {"manifest_key": KEY}, records=[["0f" * 16, "loaded", 4, 2, 1]]
    )
    with script.stub:
        (result,), failures = load_pending(
            warehouse_for(script), s3_lake, "jlr_ops", "jlr_ops_staging", ["items"]
        )
        script.stub.assert_no_pending_responses()
    assert failures == []
    assert (result.status, result.rows_loaded, result.rows_deleted, result.rows_tombstoned) == (
        "loaded",
        4,
        2,
        1,
    )
    assert s3_lake.exists("curated/jlr_ops/items/batch=20261124T080000Z/_redshift_copy.json")


def test_a_manifest_another_loader_applied_first_is_reported_as_skipped(s3_lake):
    script = ScriptedRedshift()
    existing = [
        ["id", "bigint", None, 64, 0],
        ["amount", "numeric", None, 12, 2],
        ["note", "character varying", 80, None, None],
        ["doc", "super", None, None, None],
        ["payload", "binary varying", 16, None, None],
        ["updated_at", "timestamp with time zone", None, None, None],
        ["_batch_id", "character varying", 32, None, None],
        ["_is_deleted", "boolean", None, None, None],
        ["_loaded_at", "timestamp with time zone", None, None, None],
    ]
    script.statement(
        rsql.staging_columns(),
        {"schema_name": "jlr_ops_staging", "table_name": "items"},
        records=existing,
    )
    script.batch(ANY)
    script.statement(
        rsql.audit_row(), {"manifest_key": KEY}, records=[["someone-else", "loaded", 4, 2, 1]]
    )
    with script.stub:
        result = warehouse_for(script).load_batch(
            s3_lake, "jlr_ops_staging", PendingBatch(KEY, MANIFEST)
        )
    assert (result.status, result.rows_loaded) == ("skipped", 0)


def test_a_failed_copy_is_explained_with_sys_load_error_detail(s3_lake):
    script = ScriptedRedshift()
    script.statement(
        rsql.staging_columns(),
        {"schema_name": "jlr_ops_staging", "table_name": "items"},
        records=[["id", "bigint", None, 64, 0], ["amount", "numeric", None, 12, 2]],
    )
    for c in COLUMNS[2:]:  # columns the table does not have yet are added first
        script.statement(rsql.add_column("jlr_ops_staging", "items", c))
    subs = [
        {"Id": "00000000-0000-0000-0000-000000000099:1", "Status": "FINISHED"},
        {"Id": "00000000-0000-0000-0000-000000000099:2", "Status": "FINISHED"},
        {
            "Id": "00000000-0000-0000-0000-000000000099:3",
            "Status": "FAILED",
            "RedshiftQueryId": 4242,
        },
    ]
    script.batch(ANY, status="FAILED", error="ERROR: Spectrum Scan Error", subs=subs)
    script.statement(
        rsql.load_errors(),
        {"query_id": "4242"},
        records=[
            [
                "s3://jlr-lake/x/part-0.parquet",
                1,
                "amount",
                15001,
                "File has an invalid decimal precision",
            ]
        ],
    )
    with script.stub:
        with pytest.raises(LoadError) as failure:
            warehouse_for(script).load_batch(
                s3_lake, "jlr_ops_staging", PendingBatch(KEY, MANIFEST)
            )
        script.stub.assert_no_pending_responses()
    message = str(failure.value)
    assert "failed at step 3 (copy) and was rolled back: ERROR: Spectrum Scan Error" in message
    assert (
        "part-0.parquet:1 column amount: [15001] File has an invalid decimal precision" in message
    )


def test_the_load_job_reports_a_missing_redshift_target_in_one_line(monkeypatch, capsys):
    from glue_jobs import load_staging

    for name in [n for n in os.environ if n.startswith("JLR_REDSHIFT_")]:
        monkeypatch.delenv(name)
    code = load_staging.main(
        [
            "load_staging.py", "--JOB_NAME", "jlr-load", "--LAKE_URI", "file:///nonexistent",
            "--SOURCE", "jlr_ops",
            "--WAREHOUSE_SCHEMA", "jlr_ops_staging", "--TABLES", "plants", "--WAREHOUSE",
            "redshift",
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == (
        "load: Redshift target: set exactly one of JLR_REDSHIFT_WORKGROUP (Serverless) "
        "or JLR_REDSHIFT_CLUSTER (provisioned)"
    )
