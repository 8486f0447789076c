"""Security: secrets never in output or logs, bandit clean, TLS to the source, an unreachable
source retried with backoff and then reported once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ingestion.config.settings import REPO_ROOT, Endpoint, Settings
from ingestion.demo.generator import seed_database
from ingestion.errors import ConfigError, SourceError
from ingestion.source.mysql import connect
from ingestion.warehouse.postgres import pg_connect
from tests.ingestion.test_cli import run_cli

MYSQL_SECRET = "Recognisable-MySQL-Secret-7731"
PG_SECRET = "Recognisable-PG-Secret-5519"
SALT_SECRET = "Recognisable-Salt-Secret-9043"


def test_bandit_finds_nothing():
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "bandit"),
            "-q",
            "-c",
            "pyproject.toml",
            "-r",
            "ingestion",
            "glue_jobs",
            "infra",
            "bench",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_no_secret_in_any_output_or_log(settings, tmp_path):
    """The pipeline and reconcile run with recognisable passwords and salt (their own MySQL user
    and PostgreSQL role); nothing they print or write (logs, lake, catalog) contains them."""
    user = f"sec_{os.getpid()}"
    with connect(settings.mysql) as conn, conn.cursor() as cur:
        for host in ("127.0.0.1", "localhost"):
            cur.execute(f"drop user if exists '{user}'@'{host}'")
            cur.execute(f"create user '{user}'@'{host}' identified by %s", [MYSQL_SECRET])
            cur.execute(f"grant all on `{settings.mysql.database}`.* to '{user}'@'{host}'")
            # the demo's cdc tables read the binlog, as a deployment's user must be allowed to
            cur.execute(f"grant replication slave, replication client on *.* to '{user}'@'{host}'")
    with pg_connect(settings.postgres) as conn:
        conn.execute(f"drop role if exists {user}")
        conn.execute(f"create role {user} login superuser password '{PG_SECRET}'")
    seed_database(settings.mysql, settings.mysql.database, 0.0005, 3)
    env = {
        **os.environ,
        **settings.to_env(),
        "JLR_MYSQL_USER": user,
        "JLR_MYSQL_PASSWORD": MYSQL_SECRET,
        "JLR_PG_USER": user,
        "JLR_PG_PASSWORD": PG_SECRET,
        "JLR_PII_SALT": SALT_SECRET,
        "JLR_LOCAL_DIR": str(tmp_path / "local"),
    }
    outputs = [
        run_cli("ingest", "--tables", "customers,dealers", env=env),
        run_cli("ingest", "--tables", "customers", "--log-format", "json", env=env),
        run_cli("reconcile", "--tables", "customers,dealers", env=env),
        # and when things go wrong: a wrong MySQL password, a wrong PostgreSQL password
        run_cli(
            "ingest", "--tables", "dealers", env={**env, "JLR_MYSQL_PASSWORD": "x" + MYSQL_SECRET}
        ),
        run_cli("ingest", "--tables", "dealers", env={**env, "JLR_PG_PASSWORD": "x" + PG_SECRET}),
    ]
    assert [o.returncode for o in outputs] == [0, 0, 0, 1, 1], [o.stderr[-500:] for o in outputs]
    texts = [o.stdout + o.stderr for o in outputs]
    written = [p for root in (tmp_path, settings.local_dir / "logs") for p in root.rglob("*")]
    written = [p for p in written if p.is_file() and p.stat().st_mtime >= time.time() - 3600]
    assert any(p.suffix == ".log" for p in written)  # the Glue jobs' logs are among them
    texts += [p.read_bytes().decode("utf-8", "replace") for p in written]
    for secret in (MYSQL_SECRET, PG_SECRET, SALT_SECRET):
        leaks = [t[max(0, t.find(secret) - 80) :][:200] for t in texts if secret in t]
        assert leaks == [], secret


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_source_is_retried_with_backoff_then_one_clear_error(stack):
    env = {
        **os.environ,
        **stack.to_env(),
        "JLR_MYSQL_PORT": str(free_port()),
        "JLR_MYSQL_CONNECT_ATTEMPTS": "3",
        "JLR_MYSQL_CONNECT_BACKOFF": "0.5",
    }
    started = time.monotonic()
    result = run_cli("ingest", "--tables", "dealers", env=env)
    assert time.monotonic() - started >= 1.5  # waited 0.5 s, then 1 s
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert "server not reachable" in message and "after 3 attempts" in message, message


def endpoint_env(monkeypatch, mode: str, ca: Path | None = None) -> Endpoint:
    """The source endpoint as a process started with these TLS settings resolves it."""
    monkeypatch.setenv("JLR_MYSQL_TLS_MODE", mode)
    if ca:
        monkeypatch.setenv("JLR_MYSQL_TLS_CA", str(ca))
    else:
        monkeypatch.delenv("JLR_MYSQL_TLS_CA", raising=False)
    return Settings.load().mysql


def test_tls_to_the_source(stack, monkeypatch):
    ca = stack.local_dir / "mariadb" / "tls" / "ca.pem"
    assert ca.is_file()  # made by `make up`
    for mode, trusted in (("required", None), ("verify_ca", ca), ("verify_identity", ca)):
        endpoint = endpoint_env(monkeypatch, mode, trusted)
        with connect(endpoint) as conn, conn.cursor() as cur:
            cur.execute("show session status like 'Ssl_version'")
            assert cur.fetchone()[1].startswith("TLSv1."), mode
    # a certificate no CA the system trusts signed: refused at once, not retried
    endpoint = endpoint_env(monkeypatch, "verify_ca")
    with (
        pytest.raises(SourceError, match="TLS failed.*CERTIFICATE_VERIFY_FAILED"),
        connect(endpoint),
    ):
        pass
    endpoint = endpoint_env(monkeypatch, "verify_identity", ca)
    with connect(replace(endpoint, host="localhost", database="")):  # the certificate names it
        pass
    endpoint = endpoint_env(monkeypatch, "sometimes")
    with (
        pytest.raises(ConfigError, match="JLR_MYSQL_TLS_MODE is 'sometimes'"),
        connect(endpoint),
    ):
        pass
