"""Where the source's connection comes from: environment variables or AWS Secrets Manager.

A secret has the shape AWS uses for RDS secrets: ``{"host", "port", "username", "password",
"dbname"}``. The password is registered for log redaction as soon as it is read, and no error
message ever includes it.
"""

from __future__ import annotations

import json
from dataclasses import replace

from ingestion.aws import client as aws_client
from ingestion.config.settings import Endpoint, Settings
from ingestion.config.source import SourceConfig
from ingestion.errors import ConfigError, SourceError
from ingestion.logs import register_secret


def source_endpoint(config: SourceConfig, settings: Settings) -> Endpoint:
    """The source's endpoint: from the secret JLR_MYSQL_SECRET_ARN (or the source file's
    ``connection.secret_arn``) names, else from the JLR_MYSQL_* settings. The same for a dry run,
    an ingest, reconcile and the Lambda."""
    secret_arn = settings.mysql_secret_arn or config.connection.secret_arn
    if secret_arn:
        endpoint = endpoint_from_secret(
            secret_arn, settings.source_database(config.database), settings.mysql
        )
    else:
        endpoint = settings.mysql
    register_secret(endpoint.password)
    return endpoint


def endpoint_from_secret(secret_arn: str, default_database: str, base: Endpoint) -> Endpoint:
    """The endpoint the secret describes, connecting as ``base`` does (TLS, retries)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        value = aws_client("secretsmanager").get_secret_value(SecretId=secret_arn)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise SourceError(f"cannot read the source secret {secret_arn}: {code}") from None
    except BotoCoreError as exc:
        raise SourceError(
            f"cannot reach Secrets Manager for {secret_arn}: {type(exc).__name__}"
        ) from None
    try:
        secret = json.loads(value["SecretString"])
        endpoint = replace(
            base,
            host=str(secret["host"]),
            port=int(secret.get("port", 3306)),
            user=str(secret["username"]),
            password=str(secret["password"]),
            database=str(secret.get("dbname") or default_database),
        )
    except (KeyError, TypeError, ValueError):
        raise SourceError(
            f"secret {secret_arn} must be JSON with host, port, username, "
            "password (and optionally dbname)"
        ) from None
    return endpoint


def pii_salt(settings: Settings) -> str:
    """The salt of PII hashes: the secret ``JLR_PII_SALT_SECRET_ARN`` names (its string, or its
    JSON ``salt`` field) when set, else ``JLR_PII_SALT``. Registered for log redaction."""
    secret_arn = settings.pii_salt_secret_arn
    if not secret_arn:
        salt = settings.pii_salt
    else:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            text = aws_client("secretsmanager").get_secret_value(SecretId=secret_arn)[
                "SecretString"
            ]
        except (ClientError, BotoCoreError) as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            raise ConfigError(f"cannot read the PII salt secret {secret_arn}: {code}") from None
        try:
            salt = str(json.loads(text)["salt"])
        except (ValueError, KeyError, TypeError):
            salt = text
    register_secret(salt)
    return salt
