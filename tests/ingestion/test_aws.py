"""The AWS code paths against an AWS emulator (moto's server, over HTTP): the S3 lake, and the
Lambda handler extracting from the real MariaDB with credentials from Secrets Manager."""

import json
import logging
import os
import uuid

import boto3
import pytest

from ingestion.demo.generator import seed_database
from ingestion.errors import ConfigError, LakeError
from ingestion.lake.storage import S3Lake, open_lake
from ingestion.lambda_handler import handler
from ingestion.logs import JsonFormatter
from ingestion.source.mysql import connect


class LambdaContext:
    """Stands in for the Lambda runtime's context: the one method the handler calls.
    Each call returns the next remaining time; the last one repeats."""

    def __init__(self, *remaining_ms: int):
        self.remaining = list(remaining_ms)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


def new_bucket() -> str:
    name = f"jlr-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    return name


def test_s3_lake_contract_with_a_multipart_upload(aws, tmp_path):
    lake = open_lake(f"s3://{new_bucket()}/lake")
    assert isinstance(lake, S3Lake)
    lake.put_json("raw/s/t/run=1/_manifest.json", {"rows": 2})
    assert lake.exists("raw/s/t/run=1/_manifest.json")
    assert not lake.exists("raw/s/t/run=2/_manifest.json")
    assert lake.get_json("raw/s/t/run=1/_manifest.json") == {"rows": 2}
    assert lake.url("raw/s/t/") == f"s3://{lake.bucket}/lake/raw/s/t/"
    assert lake.key_of(lake.url("raw/x")) == "raw/x"

    big = tmp_path / "big.bin"
    payload = os.urandom(12 * 2**20)
    big.write_bytes(payload)
    small_parts = S3Lake(lake.bucket, "lake", multipart_threshold=5 * 2**20)
    small_parts.put_file("raw/s/t/run=1/part-0.jsonl.gz", big)
    assert not big.exists()  # moved into the lake
    head = lake.client.head_object(Bucket=lake.bucket, Key="lake/raw/s/t/run=1/part-0.jsonl.gz")
    assert head["ETag"].strip('"').endswith("-3")  # three parts: a real multipart upload
    assert lake.open("raw/s/t/run=1/part-0.jsonl.gz").read() == payload

    assert lake.list("raw/s/t/") == [
        "raw/s/t/run=1/_manifest.json",
        "raw/s/t/run=1/part-0.jsonl.gz",
    ]
    assert lake.list("raw/", "_manifest.json") == ["raw/s/t/run=1/_manifest.json"]
    lake.delete_prefix("raw/s/t/run=1")
    assert lake.list("raw/") == []
    with pytest.raises(LakeError, match="cannot read s3://.*/lake/raw/nope: NoSuchKey"):
        lake.get_bytes("raw/nope")
    with pytest.raises(LakeError, match="NoSuchBucket"):
        open_lake("s3://no-such-bucket-here/x").put_bytes("a", b"x")


@pytest.fixture
def lambda_env(aws, settings, tmp_path, monkeypatch):
    """A seeded source, a secret holding its credentials, an S3 lake and a source config."""
    seed_database(settings.mysql, settings.mysql.database, 0.002, 42)
    secrets = boto3.client("secretsmanager")
    arn = secrets.create_secret(
        Name=f"jlr/{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps(
            {
                "host": settings.mysql.host,
                "port": settings.mysql.port,
                "username": settings.mysql.user,
                "password": settings.mysql.password,
                "dbname": settings.mysql.database,
            }
        ),
    )["ARN"]
    config = tmp_path / "src.yml"  # names no database: the secret's dbname says which
    config.write_text(
        "name: src\nwarehouse_schema: s\ntables:\n"
        "  dealers: {}\n  sales_orders:\n    mode: incremental\n"
        "    cursor: updated_at\n    chunk_rows: 1000\n    hard_deletes: true\n"
    )
    bucket = new_bucket()
    for name, value in (
        ("JLR_SOURCE_CONFIG", str(config)),
        ("JLR_MYSQL_SECRET_ARN", arn),
        ("JLR_LAKE_URI", f"s3://{bucket}/lake"),
    ):
        monkeypatch.setenv(name, value)
    for name in ("JLR_MYSQL_PASSWORD", "JLR_MYSQL_HOST"):  # the secret is the only way in
        monkeypatch.setenv(name, "unused-" + name.lower())
    return open_lake(f"s3://{bucket}/lake")


def source_count(settings, table):
    with connect(settings.mysql, settings.mysql.database) as conn, conn.cursor() as cur:
        cur.execute(f"select count(*) from {table}")
        return cur.fetchone()[0]


def assert_no_secret(password, caplog, *outputs):
    lines = [JsonFormatter().format(r) for r in caplog.records]
    assert lines, "the handler logged nothing"
    for text in [*lines, *map(json.dumps, outputs)]:
        assert password not in text


def test_lambda_extracts_to_s3_with_credentials_from_secrets_manager(lambda_env, settings, caplog):
    caplog.set_level(logging.INFO)
    result = handler({"source": "src"}, LambdaContext(900_000))
    assert result["status"] == "complete", result
    by_table = {t["table"]: t for t in result["tables"]}
    assert by_table["sales_orders"]["rows"] == source_count(settings, "sales_orders")
    assert by_table["dealers"]["rows"] == source_count(settings, "dealers")
    manifest = lambda_env.get_json(by_table["sales_orders"]["manifest"])
    assert [f["rows"] for f in manifest["files"]] == [1000, 1000]
    assert lambda_env.exists("_state/src/sales_orders/watermark.json")
    assert_no_secret(settings.mysql.password, caplog, result)


def test_lambda_returns_a_continuation_and_resumes(lambda_env, settings, caplog):
    caplog.set_level(logging.INFO)
    # plenty of time before the table, then the deadline is near after the first chunk
    first = handler({"tables": ["sales_orders"]}, LambdaContext(900_000, 900_000, 1_000))
    assert first["status"] == "continue"
    assert first["continuation"] == {"tables": ["sales_orders"]}
    assert first["tables"][0]["status"] == "continue"
    second = handler({"continuation": first["continuation"]}, LambdaContext(900_000))
    assert second["status"] == "complete"
    (done,) = second["tables"]
    assert done["resumed"] and done["run_id"] == first["tables"][0]["run_id"]
    assert done["rows"] == source_count(settings, "sales_orders") == 2000
    assert done["files"] == 2
    assert_no_secret(settings.mysql.password, caplog, first, second)


def test_a_wrong_password_in_the_secret_is_clear_and_never_shown(lambda_env, caplog):
    caplog.set_level(logging.INFO)
    password = "Visible-Wrong-Passw0rd-123"
    arn = boto3.client("secretsmanager").create_secret(
        Name=f"jlr/{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps(
            {"host": "127.0.0.1", "port": 3307, "username": "jlr", "password": password}
        ),
    )["ARN"]
    os.environ["JLR_MYSQL_SECRET_ARN"] = arn
    result = handler({"tables": ["dealers"]}, LambdaContext(900_000))
    assert result["status"] == "failed"
    assert "wrong user or password" in result["error"]  # found when selecting the tables
    assert_no_secret(password, caplog, result)


def test_an_unreadable_secret_is_one_clear_error(lambda_env):
    os.environ["JLR_MYSQL_SECRET_ARN"] = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:nope"
    result = handler({}, LambdaContext(900_000))
    assert result["status"] == "failed"
    assert "cannot read the source secret" in result["error"]
    assert "ResourceNotFoundException" in result["error"]


def test_the_pii_salt_comes_from_a_secret_when_one_is_named(aws, monkeypatch):
    from ingestion.config.credentials import pii_salt
    from ingestion.config.settings import Settings
    from ingestion.errors import ConfigError

    secrets = boto3.client("secretsmanager")
    plain = secrets.create_secret(Name=f"salt/{uuid.uuid4().hex[:6]}", SecretString="s4lt-plain")
    shaped = secrets.create_secret(
        Name=f"salt/{uuid.uuid4().hex[:6]}", SecretString=json.dumps({"salt": "s4lt-json"})
    )
    monkeypatch.setenv("JLR_PII_SALT", "from-env")
    assert pii_salt(Settings.load()) == "from-env"
    monkeypatch.setenv("JLR_PII_SALT_SECRET_ARN", plain["ARN"])
    assert pii_salt(Settings.load()) == "s4lt-plain"
    monkeypatch.setenv("JLR_PII_SALT_SECRET_ARN", shaped["ARN"])
    assert pii_salt(Settings.load()) == "s4lt-json"
    monkeypatch.setenv("JLR_PII_SALT_SECRET_ARN", "arn:aws:secretsmanager:eu-west-2:1:secret:no")
    with pytest.raises(ConfigError, match="cannot read the PII salt secret .*ResourceNotFound"):
        pii_salt(Settings.load())


def test_parallel_streams_run_in_threads_and_stop_at_the_deadline(lambda_env, settings, tmp_path):
    """``streams: 2`` in Lambda: no process pool (Lambda has none), and the deadline reaches
    every stream; the continuation finishes the run with each row exactly once."""
    import gzip

    seed_database(settings.mysql, settings.mysql.database, 0.005, 42)
    config = tmp_path / "streams.yml"
    config.write_text(
        "name: src\nwarehouse_schema: s\ntables:\n"
        "  sales_orders:\n    streams: 2\n    chunk_rows: 1000\n"
    )
    os.environ["JLR_SOURCE_CONFIG"] = str(config)  # restored by lambda_env's monkeypatch
    first = handler({}, LambdaContext(900_000, 900_000, 1_000))
    assert first["status"] == "continue", first
    second = handler({"continuation": first["continuation"]}, LambdaContext(900_000))
    assert second["status"] == "complete", second
    (done,) = second["tables"]
    expected = source_count(settings, "sales_orders")
    assert done["resumed"] and done["rows"] == expected == 5000
    ids = []
    for f in lambda_env.get_json(done["manifest"])["files"]:
        with gzip.open(lambda_env.open(f["key"]), "rt") as handle:
            ids += [json.loads(line)["order_id"] for line in handle]
    assert len(ids) == len(set(ids)) == expected
    assert {
        f["key"].split("part-")[1][:3] for f in lambda_env.get_json(done["manifest"])["files"]
    } == {"s00", "s01"}


def test_the_lambda_takes_and_releases_the_source_lock_for_an_execution(aws, monkeypatch):
    from ingestion.lake.lock import SourceLocked

    monkeypatch.setenv("JLR_LAKE_URI", f"s3://{new_bucket()}/lake")

    def call(action, run_id):
        return handler({"action": action, "source": "src", "run_id": run_id}, LambdaContext(1))

    assert call("lock", "exec-1")["status"] == "complete"
    assert call("lock", "exec-1")["status"] == "complete"  # a retried invocation: still ours
    with pytest.raises(SourceLocked, match="locked by run exec-1"):
        call("lock", "exec-2")
    call("unlock", "exec-2")  # not its lock: nothing happens
    with pytest.raises(SourceLocked):
        call("lock", "exec-2")
    call("unlock", "exec-1")
    assert call("lock", "exec-2")["status"] == "complete"


def test_every_aws_client_retries_in_standard_mode():
    """One factory makes the project's boto3 clients, with botocore's standard retries; no code
    makes one of its own."""

    from ingestion.aws import client
    from ingestion.config.settings import REPO_ROOT

    config = client("s3", "eu-west-2").meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 11}  # 10 retries
    own = [
        str(path.relative_to(REPO_ROOT))
        for folder in ("ingestion", "glue_jobs", "infra")
        for path in (REPO_ROOT / folder).rglob("*.py")
        if "boto3.client(" in path.read_text() and path != REPO_ROOT / "ingestion" / "aws.py"
    ]
    assert own == []


def test_the_run_selects_its_tables_from_the_source_file_deploy_uploaded(
    lambda_env, settings, monkeypatch
):
    """The state machine's first step: the source file, read from S3 where deploy puts it,
    resolved against the live catalog (patterns, exclude); a list in the input wins; a file
    that cannot be read fails the step with the cause."""
    bucket = new_bucket()
    boto3.client("s3").put_object(
        Bucket=bucket,
        Key="releases/r1/sources/src.yml",
        Body=b"name: src\nwarehouse_schema: s\nexclude: [vehicles]\ntables:\n"
        b"  'v*': {}\n  dealers: {}\n  'nothing_*': {}\n",
    )
    monkeypatch.delenv("JLR_SOURCE_CONFIG")
    monkeypatch.setenv("JLR_SOURCES_URI", f"s3://{bucket}/releases/r1/sources")
    event = {"action": "tables", "source": "src", "input": {"source": "src"}}
    answer = handler(event, LambdaContext(900_000))
    assert answer == {
        "status": "complete",
        "source": "src",
        "tables": ["dealers", "vehicle_models"],  # named first, then the pattern's, less exclude
    }
    given = {**event, "input": {"source": "src", "tables": ["dealers"]}}
    assert handler(given, LambdaContext(900_000))["tables"] == ["dealers"]
    with pytest.raises(ConfigError, match="not configured"):
        handler({**event, "input": {"tables": ["plants"]}}, LambdaContext(900_000))
    with pytest.raises(ConfigError, match=r"sources/nope\.yml: cannot read the source file"):
        handler({**event, "source": "nope"}, LambdaContext(900_000))
