"""Deploy to AWS and run there: ``python -m infra.deploy deploy|run|publish-docs``.

* ``deploy``: uploads ``dist/<version>/`` (``make package``) to the artifacts bucket (created,
  encrypted and private, when missing), then creates or updates the stack ``jlr-<env>`` through
  a change set (reviewable: ``--no-execute`` stops before executing it), waits, prints outputs.
* ``run``: starts the stack's state machine (``make ingest TARGET=aws``) and follows it, one line
  per step, until it ends; exit code 1 unless it succeeded.
* ``publish-docs``: uploads dbt's static docs site (``target/static_index.html``) to the docs
  bucket.

Credentials and region come from boto3's usual chain (AWS_PROFILE, AWS_REGION ...).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from infra.package import ROOT, version
from ingestion.aws import client as aws_client

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class DeployError(Exception):
    pass


def _client(service: str, region: str | None):
    return aws_client(service, region)


def stack_name(env: str) -> str:
    return f"jlr-{env}"


def ensure_artifacts_bucket(s3, bucket: str, region: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise DeployError(
                f"artifacts bucket {bucket}: {exc.response['Error']['Code']}"
            ) from None
    create = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def upload_release(s3, bucket: str, release_dir: Path, prefix: str) -> list[str]:
    if not (release_dir / "lambda" / "extractor.zip").is_file():
        raise DeployError(f"{release_dir} is not a packaged release: run `make package` first")
    keys = []
    for path in sorted(p for p in release_dir.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(release_dir).as_posix()}"
        s3.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys


def _stack_exists(cfn, name: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError:
        return False
    return bool(stacks) and stacks[0]["StackStatus"] != "REVIEW_IN_PROGRESS"


def deploy_stack(
    cfn, name: str, template_url: str, parameters: dict[str, str], execute: bool = True
) -> dict[str, str]:
    change_type = "UPDATE" if _stack_exists(cfn, name) else "CREATE"
    change_set = f"{name}-{int(time.time())}"
    cfn.create_change_set(
        StackName=name,
        ChangeSetName=change_set,
        ChangeSetType=change_type,
        TemplateURL=template_url,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        Tags=[{"Key": "project", "Value": "jlr-data-platform"}],
    )
    _wait(cfn, "change_set_create_complete", StackName=name, ChangeSetName=change_set)
    described = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates" in reason:
            print(f"deploy: {name} is up to date")
            return outputs(cfn, name)
        raise DeployError(f"change set {change_set} failed: {reason}")
    for change in described.get("Changes", []):
        rc = change.get("ResourceChange", {})
        action, kind = rc.get("Action", "?"), rc.get("ResourceType", "")
        print(f"  {action:<7} {kind:<40} {rc.get('LogicalResourceId', '')}")
    if not execute:
        print(f"deploy: change set {change_set} created, not executed (--no-execute)")
        return {}
    cfn.execute_change_set(StackName=name, ChangeSetName=change_set)
    waiter = "stack_create_complete" if change_type == "CREATE" else "stack_update_complete"
    _wait(cfn, waiter, StackName=name)
    final = cfn.describe_stacks(StackName=name)["Stacks"][0]
    if final["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise DeployError(
            f"stack {name} ended {final['StackStatus']}: {final.get('StackStatusReason', '')}"
        )
    return outputs(cfn, name)


def _wait(cfn, waiter: str, timeout: float = 3600, poll: float = 5.0, **request) -> None:
    """CloudFormation's own waiter, up to ``timeout``. A failure state ends the wait without an
    error: the caller describes the outcome and says what went wrong."""
    from botocore.exceptions import WaiterError

    attempts = max(1, int(timeout / poll))
    try:
        cfn.get_waiter(waiter).wait(
            **request, WaiterConfig={"Delay": poll, "MaxAttempts": attempts}
        )
    except WaiterError as exc:
        if "Max attempts exceeded" in str(exc):
            raise DeployError(
                f"{waiter.replace('_', ' ')}: still waiting after {timeout:.0f} s"
            ) from None


def outputs(cfn, name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def run_pipeline(sfn, state_machine_arn: str, payload: dict, poll: float = 10.0) -> str:
    """Start an execution and follow it; returns its final status."""
    execution = sfn.start_execution(stateMachineArn=state_machine_arn, input=json.dumps(payload))
    arn = execution["executionArn"]
    print(f"run: started {arn}")
    seen = 0
    history = sfn.get_paginator("get_execution_history")
    while True:
        for page in history.paginate(executionArn=arn):
            for event in page["events"]:
                if event["id"] <= seen:
                    continue
                seen = event["id"]
                details = event.get("stateEnteredEventDetails")
                if details:
                    print(f"run: {event['timestamp']:%H:%M:%S} {details['name']}")
        status = sfn.describe_execution(executionArn=arn)["status"]
        if status in TERMINAL:
            print(f"run: {status}")
            return status
        time.sleep(poll)


def publish_docs(s3, bucket: str, site: Path) -> str:
    if not site.is_file():
        raise DeployError(f"{site} not found: run `make docs` (dbt docs generate --static) first")
    key = "index.html"
    s3.upload_file(str(site), bucket, key, ExtraArgs={"ContentType": "text/html"})
    return f"s3://{bucket}/{key}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("deploy", "run", "publish-docs"):
        p = sub.add_parser(command)
        p.add_argument("--env", default="dev", help="environment name (stack jlr-<env>)")
        p.add_argument("--region", default=None)
    d = sub.choices["deploy"]
    d.add_argument("--artifacts-bucket", required=True)
    d.add_argument("--version", default=None, help="release under dist/ (default: git describe)")
    d.add_argument("--subnets", required=True, help="comma-separated private subnet ids")
    d.add_argument("--security-groups", required=True, help="comma-separated security group ids")
    d.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    d.add_argument("--no-execute", action="store_true", help="create the change set only")
    r = sub.choices["run"]
    r.add_argument(
        "--tables", default=None, help="comma-separated (default: what the source file selects)"
    )
    r.add_argument("--full-refresh", action="store_true")
    r.add_argument("--source", default="jlr_ops")
    args = parser.parse_args(argv)
    try:
        cfn = _client("cloudformation", args.region)
        name = stack_name(args.env)
        if args.command == "deploy":
            s3 = _client("s3", args.region)
            region = s3.meta.region_name
            release = args.version or version()
            prefix = f"releases/{release}"
            ensure_artifacts_bucket(s3, args.artifacts_bucket, region)
            keys = upload_release(s3, args.artifacts_bucket, ROOT / "dist" / release, prefix)
            print(
                f"deploy: uploaded {len(keys)} artifacts to s3://{args.artifacts_bucket}/{prefix}/"
            )
            params = {
                "EnvironmentName": args.env,
                "ArtifactsBucketName": args.artifacts_bucket,
                "ArtifactsPrefix": prefix,
                "SubnetIds": args.subnets,
                "SecurityGroupIds": args.security_groups,
                **dict(p.split("=", 1) for p in args.parameter),
            }
            # CloudFormation reads the template with the caller's credentials
            url = (
                f"https://{args.artifacts_bucket}.s3.{region}.amazonaws.com/"
                f"{prefix}/infra/platform.yaml"
            )
            result = deploy_stack(cfn, name, url, params, execute=not args.no_execute)
            for key, value in sorted(result.items()):
                print(f"  {key:<20} {value}")
            return 0
        stack_outputs = outputs(cfn, name)
        if args.command == "run":
            payload = {"source": args.source, "full_refresh": args.full_refresh}
            if args.tables:  # else the state machine asks the function what the file selects
                payload["tables"] = args.tables.split(",")
            status = run_pipeline(
                _client("stepfunctions", args.region), stack_outputs["StateMachineArn"], payload
            )
            return 0 if status == "SUCCEEDED" else 1
        where = publish_docs(
            _client("s3", args.region),
            stack_outputs["DocsBucket"],
            ROOT / "target" / "static_index.html",
        )
        print(f"docs: published {where}")
        return 0
    except DeployError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # botocore errors: one line, no stack trace for a user's setup
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, (BotoCoreError, ClientError)):
            print(f"{args.command}: AWS: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
