"""boto3 clients as the project makes them: every client retries throttling and transient errors
with botocore's ``standard`` mode (exponential backoff with jitter, up to 10 attempts), so a busy
account's API limits slow a run down instead of failing it. Endpoints and credentials come from
boto3's own chain (``AWS_ENDPOINT_URL`` points them at an emulator in tests)."""

from __future__ import annotations

RETRIES = {"mode": "standard", "max_attempts": 10}


def client(service: str, region: str | None = None):
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name=region, config=Config(retries=RETRIES))
