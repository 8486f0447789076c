"""The AWS deployment as code: the template passes cfn-lint and checkov, the state machine is valid
Amazon States Language, the packaged Lambda runs from a clean directory, and the deploy script's
calls work against moto's server for the services it emulates."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml

from infra import deploy, package
from ingestion.config.settings import REPO_ROOT
from ingestion.demo.generator import seed_database
from ingestion.errors import ConfigError
from ingestion.logs import metrics_record

INFRA = REPO_ROOT / "infra"
TEMPLATE = INFRA / "platform.yaml"
ASL = INFRA / "pipeline.asl.json"
IAC = REPO_ROOT / ".venv-iac" / "bin"


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML (short-form intrinsic functions) as plain data."""


CfnLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: {
        suffix: (
            loader.construct_scalar(node)
            if isinstance(node, yaml.ScalarNode)
            else loader.construct_sequence(node)
            if isinstance(node, yaml.SequenceNode)
            else loader.construct_mapping(node)
        )
    },
)


def cfn_lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(IAC / "cfn-lint"), str(path)], capture_output=True, text=True, check=False
    )


def test_the_template_passes_cfn_lint_without_errors_or_warnings():
    result = cfn_lint(TEMPLATE)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_template_passes_checkov_and_every_suppression_is_justified():
    result = subprocess.run(
        [str(IAC / "checkov"), "-f", str(TEMPLATE), "--framework", "cloudformation",
         "--skip-download", "-o", "json"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )  # fmt: skip
    report = json.loads(result.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 50
    template = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)
    for resource in template["Resources"].values():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 20, skip


def _states(machine: dict) -> dict[str, dict]:
    """Every state, nested Map processors included (names are unique in our definition)."""
    found = {}
    for name, state in machine["States"].items():
        found[name] = state
        if "ItemProcessor" in state:
            found.update(_states(state["ItemProcessor"]))
    return found


def _targets(state: dict) -> list[str]:
    targets = [state[k] for k in ("Next", "Default") if k in state]
    targets += [c["Next"] for c in state.get("Choices", [])]
    targets += [c["Next"] for c in state.get("Catch", [])]
    return targets


def _check_machine(machine: dict) -> None:
    states = machine["States"]
    assert machine["StartAt"] in states
    reachable, todo = set(), [machine["StartAt"]]
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        reachable.add(name)
        state = states[name]
        for target in _targets(state):
            assert target in states, f"{name} -> {target}: no such state"
            todo.append(target)
        if state["Type"] in ("Task", "Pass", "Wait", "Map", "Parallel"):
            assert "Next" in state or state.get("End") is True, f"{name} never ends"
        if state["Type"] == "Map":
            _check_machine(state["ItemProcessor"])
    assert reachable == set(states), f"unreachable: {set(states) - reachable}"
    assert any(s["Type"] in ("Succeed", "Fail") or s.get("End") for s in states.values())


def test_the_state_machine_is_valid_states_language():
    machine = json.loads(ASL.read_text())
    _check_machine(machine)
    states = _states(machine)
    # the tables come from the source file (through the function), never from a fixed list
    assert states["AcquireLock"]["Next"] == "SelectTables"
    assert states["SelectTables"]["Parameters"]["Payload"]["action"] == "tables"
    assert states["TablesSelected"]["Parameters"]["tables.$"] == "$.selected.tables"
    for job in ("Curate", "Load"):  # the jobs work on exactly those (a JSON array)
        assert states[job]["Parameters"]["Arguments"] == {
            "--TABLES.$": "States.JsonToString($.tables)"
        }
    template = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)
    schedule = template["Resources"]["Schedule"]["Properties"]["Target"]["Input"]["Sub"]
    assert "tables" not in schedule and "Tables" not in template["Parameters"]
    for job in ("CurateJob", "LoadJob"):
        arguments = template["Resources"][job]["Properties"]["DefaultArguments"]
        assert arguments["--SOURCE_CONFIG"]["Sub"].endswith("/sources/${SourceName}.yml")
    # the loop: Extract -> ExtractOutcome -> Resume -> Extract until complete, then the jobs
    assert states["ExtractOutcome"]["Choices"][1]["Next"] == "Resume"
    assert states["Resume"]["Next"] == "Extract"
    assert states["Curate"]["Resource"].endswith("glue:startJobRun.sync")
    assert states["Load"]["Resource"].endswith("glue:startJobRun.sync")
    assert all(
        s.get("Retry") for n, s in states.items() if s["Type"] == "Task" and n != "NotifyFailure"
    )
    # every ${...} in the definition is substituted by the template
    template = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)
    given = template["Resources"]["Pipeline"]["Properties"]["DefinitionSubstitutions"]
    assert set(re.findall(r"\$\{(\w+)\}", ASL.read_text())) == set(given)
    # and cfn-lint's States Language schema accepts it, inline in the template
    inline = TEMPLATE.read_text().replace(
        "      DefinitionS3Location:\n        Bucket: !Ref ArtifactsBucketName\n"
        '        Key: !Sub "${ArtifactsPrefix}/infra/pipeline.asl.json"\n',
        "      Definition: " + json.dumps(machine) + "\n",
    )
    assert "Definition: {" in inline
    broken = json.loads(json.dumps(machine))
    broken["States"]["Load"]["Type"] = "Job"
    with_errors = inline.replace(json.dumps(machine), json.dumps(broken))
    for text, clean in ((inline, True), (with_errors, False)):
        path = REPO_ROOT / "dist" / f"inline-{uuid.uuid4().hex}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        try:
            result = cfn_lint(path)
        finally:
            path.unlink()
        assert (result.returncode == 0) is clean, result.stdout


def test_metrics_are_embedded_metric_format_records():
    record = metrics_record("load", "sales_orders", rows_loaded=120, seconds=1.5)
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "JLR/DataPlatform"
    assert ["Stage", "Table"] in directive["Dimensions"]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "rows_loaded": "Count",
        "seconds": "Seconds",
    }
    assert (record["Stage"], record["Table"], record["rows_loaded"]) == (
        "load",
        "sales_orders",
        120,
    )
    assert isinstance(record["_aws"]["Timestamp"], int)


# --- the packaged Lambda ----------------------------------------------------------------------

RUN_HANDLER = """
import json, sys
sys.path[:0] = sys.argv[1:3]
try:
    import pyarrow  # noqa: F401
    raise SystemExit("pyarrow is importable: the directory is not clean")
except ImportError:
    pass
from ingestion.lambda_handler import handler

class Context:
    def get_remaining_time_in_millis(self):
        return 600_000

print(json.dumps(handler(json.loads(sys.argv[3]), Context())))
"""
BOTO3_DISTRIBUTION = [
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "six.py",
]


def test_the_lambda_zip_runs_its_handler_from_a_clean_directory(settings, aws, tmp_path):
    zip_path = package.build_lambda(tmp_path / "release")
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "function")
    assert not any(n.startswith(("boto3/", "botocore/", "ingestion/demo/")) for n in names)
    assert "ingestion/sources/jlr_ops.yml" in names
    runtime = tmp_path / "runtime"  # what the Lambda runtime adds: boto3 and its dependencies
    runtime.mkdir()
    site = Path(boto3.__file__).resolve().parent.parent
    for name in BOTO3_DISTRIBUTION:
        (runtime / name).symlink_to(site / name)
    seed_database(settings.mysql, settings.mysql.database, 0.002, 7)
    bucket = f"jlr-lambda-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    env = {
        "PATH": os.environ["PATH"],
        "AWS_ENDPOINT_URL": aws,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-2",
        "AWS_LAMBDA_FUNCTION_NAME": "jlr-test-extract",
        "JLR_LAKE_URI": f"s3://{bucket}/lake",
        "JLR_MYSQL_HOST": settings.mysql.host,
        "JLR_MYSQL_PORT": str(settings.mysql.port),
        "JLR_MYSQL_USER": settings.mysql.user,
        "JLR_MYSQL_PASSWORD": settings.mysql.password,
        "JLR_MYSQL_DATABASE": settings.mysql.database,
    }
    event = {"source": "jlr_ops", "tables": ["plants", "dealers"]}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", RUN_HANDLER, str(tmp_path / "function"),
         str(runtime), json.dumps(event)],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    answer = json.loads(lines[-1])
    assert answer["status"] == "complete", answer
    assert [t["table"] for t in answer["tables"]] == ["plants", "dealers"]
    assert all(t["status"] == "committed" and t["rows"] > 0 for t in answer["tables"])
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert sum(k.endswith("_manifest.json") for k in keys) == 2
    emf = [json.loads(line) for line in lines if line.startswith('{"_aws"')]
    assert {(m["Stage"], m["Table"]) for m in emf} == {
        ("extract", "plants"),
        ("extract", "dealers"),
    }
    assert settings.mysql.password not in result.stdout + result.stderr


# --- the packaged Glue jobs ---------------------------------------------------------------------

# What the job scripts may import beyond the packaged requirements and zip: pyspark 3.5.6 (Glue
# 5.1's Spark) and py4j, and modules AWS documents as provided in Glue 5.1 (boto3 and its own).
GLUE_PROVIDED = ["pyspark", "py4j", *BOTO3_DISTRIBUTION]
IMPORT_JOB = """
import importlib.util, sys
sys.path.insert(0, sys.argv[1])  # --extra-py-files
for script in sys.argv[2:]:
    spec = importlib.util.spec_from_file_location("job", script)
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    assert job.main(["job.py"]) == 1  # no arguments: one line saying which are missing
for name in ("pymysql", "psycopg", "pyarrow", "rich"):
    assert name not in sys.modules, name + " was imported"
"""


def test_the_glue_jobs_start_from_their_packaged_artifacts_in_a_fresh_venv(tmp_path):
    """A venv holding only Glue's own modules, the packaged requirements.txt and the
    --extra-py-files zip imports both job scripts and runs them to their argument check."""
    glue = package.build_glue(tmp_path / "release")
    venv = tmp_path / "glue-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(glue / "requirements.txt")],
        check=True,
    )  # fmt: skip
    (site,) = (venv / "lib").glob("python3.*/site-packages")
    dev_site = Path(boto3.__file__).resolve().parent.parent
    for name in GLUE_PROVIDED:
        if not (site / name).exists():  # a requirement's own dependency may have brought it
            (site / name).symlink_to(dev_site / name)
    scripts = [str(glue / "curate_raw.py"), str(glue / "load_staging.py")]
    result = subprocess.run(
        [str(python), "-I", "-c", IMPORT_JOB, str(glue / "jlr_platform.zip"), *scripts],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:]
    assert result.stdout.count("missing job arguments") == 2, result.stdout


# --- the deploy script against moto -------------------------------------------------------------


def deploy_arguments(bucket: str, version: str) -> list[str]:
    network = ["--subnets", "subnet-0123456789abcdef0", "--security-groups", "sg-0123456789abcdef0"]
    return ["deploy", "--env", "ci", "--artifacts-bucket", bucket, "--version", version, *network]


@pytest.fixture
def release():
    name = f"test-{uuid.uuid4().hex[:8]}"
    out = package.build(REPO_ROOT / "dist" / name)
    yield name, out
    shutil.rmtree(out, ignore_errors=True)


def test_deploy_uploads_the_release_and_creates_the_stack_through_a_change_set(
    aws, release, capsys
):
    name, out = release
    arguments = deploy_arguments(f"jlr-artifacts-{name}", name)
    arguments += ["--parameter", "AlarmEmail=data-team@example.invalid"]
    code = deploy.main(arguments)
    printed = capsys.readouterr().out
    assert code == 0, printed
    s3 = boto3.client("s3")
    keys = {
        o["Key"]
        for o in s3.list_objects_v2(Bucket=f"jlr-artifacts-{name}", Prefix=f"releases/{name}/")[
            "Contents"
        ]
    }
    assert keys == {
        f"releases/{name}/{p.relative_to(out).as_posix()}" for p in out.rglob("*") if p.is_file()
    }
    assert f"releases/{name}/sources/jlr_ops.yml" in keys  # what the function and jobs read
    encryption = s3.get_bucket_encryption(Bucket=f"jlr-artifacts-{name}")
    assert encryption["ServerSideEncryptionConfiguration"]["Rules"]
    cfn = boto3.client("cloudformation")
    assert cfn.describe_stacks(StackName="jlr-ci")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert "Add     AWS::Glue::Job" in printed  # the change set lists what it will create
    function = boto3.client("lambda").get_function(FunctionName="jlr-ci-extract")
    assert function["Configuration"]["Handler"] == "ingestion.lambda_handler.handler"
    assert function["Configuration"]["Runtime"] == "python3.11"
    machines = boto3.client("stepfunctions").list_state_machines()["stateMachines"]
    assert "jlr-ci-pipeline" in [m["name"] for m in machines]
    roles = [r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]]
    assert any("ExtractorRole" in r for r in roles) and any("GlueRole" in r for r in roles)
    # deploying the same release again is a no-op update, not an error
    assert deploy.main(arguments) == 0


def test_package_ships_every_source_file_checked(tmp_path):
    extra = tmp_path / "shop.yml"
    extra.write_text(
        "name: shop\ndatabase: shop\nwarehouse_schema: shop_staging\ntables:\n  '*': {}\n"
    )
    sources = package.build_sources(tmp_path / "out", [extra])
    assert sorted(p.name for p in sources.iterdir()) == ["jlr_ops.yml", "shop.yml"]
    broken = tmp_path / "broken.yml"
    broken.write_text("name: broken\ntables: {}\n")
    with pytest.raises(ConfigError, match="broken.yml"):
        package.build_sources(tmp_path / "again", [broken])


def test_deploy_without_a_package_says_what_to_run(aws, capsys):
    code = deploy.main(deploy_arguments("jlr-artifacts-missing", "never-built"))
    assert code == 1
    assert "run `make package` first" in capsys.readouterr().err


def test_the_glue_jobs_get_arguments_our_scripts_accept():
    from glue_jobs import curate_raw, load_staging  # noqa: F401 - the scripts import cleanly

    template = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)
    for name in ("CurateJob", "LoadJob"):
        job = template["Resources"][name]["Properties"]
        arguments = job["DefaultArguments"]
        assert arguments["--LAKE_URI"]["Sub"].startswith("s3://")  # what open_lake accepts
        assert job["GlueVersion"] == "5.1"
        script = job["Command"]["ScriptLocation"]["Sub"].rsplit("/", 1)[1]
        assert (REPO_ROOT / "glue_jobs" / script).is_file()
        for key in arguments:
            assert key.startswith("--") and (key[2:].isupper() or "-" in key[2:]), key


def test_following_a_run_reads_every_page_of_its_history(capsys):
    """A long run's history spans pages (at most 1,000 events each): every state entered is
    printed once, whichever page it is on, as the run goes on."""
    from datetime import UTC, datetime

    from botocore.stub import Stubber

    sfn = boto3.client("stepfunctions", region_name="eu-west-2")
    arn = "arn:aws:states:eu-west-2:123456789012:execution:jlr-ci:run-1"
    at = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)

    def entered(event_id: int, name: str) -> dict:
        return {
            "id": event_id,
            "timestamp": at,
            "type": "TaskStateEntered",
            "stateEnteredEventDetails": {"name": name},
        }

    first_page = [entered(1, "AcquireLock"), entered(2, "ExtractTables")]
    with Stubber(sfn) as stub:
        stub.add_response("start_execution", {"executionArn": arn, "startDate": at})
        stub.add_response("get_execution_history", {"events": first_page, "nextToken": "t1"})
        stub.add_response("get_execution_history", {"events": [entered(3, "Curate")]})
        stub.add_response("describe_execution", {**EXECUTION, "status": "RUNNING"})
        stub.add_response("get_execution_history", {"events": first_page, "nextToken": "t1"})
        stub.add_response(
            "get_execution_history", {"events": [entered(3, "Curate"), entered(4, "Load")]}
        )
        stub.add_response("describe_execution", {**EXECUTION, "status": "SUCCEEDED"})
        assert deploy.run_pipeline(sfn, "arn:sm", {"source": "jlr_ops"}, poll=0) == "SUCCEEDED"
    printed = [line.split()[-1] for line in capsys.readouterr().out.splitlines()]
    assert printed == [arn, "AcquireLock", "ExtractTables", "Curate", "Load", "SUCCEEDED"]


EXECUTION = {
    "executionArn": "arn:aws:states:eu-west-2:123456789012:execution:jlr-ci:run-1",
    "stateMachineArn": "arn:aws:states:eu-west-2:123456789012:stateMachine:jlr-ci",
    "startDate": "2026-12-04T08:00:00Z",
}
