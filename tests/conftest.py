"""Session fixtures: the real local stack (started once), and per-test databases and lakes.

Tests never touch the demo's data: each gets its own MariaDB database, PostgreSQL database and
lake directory, dropped afterwards.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from ingestion.config.settings import REPO_ROOT, Settings
from ingestion.source.mysql import connect, quote_ident
from ingestion.warehouse.postgres import pg_connect
from tests.aws_fixtures import aws  # noqa: F401 - a session fixture for tests that need it


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def stack() -> Settings:
    """The local MariaDB and PostgreSQL servers, started if they are not running."""
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "stack.sh"), "up"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        pytest.fail(f"local stack did not start:\n{result.stdout}\n{result.stderr}")
    return Settings.load()


@pytest.fixture
def mysql_db(stack: Settings) -> Iterator[str]:
    name = _unique("t_src")
    with connect(stack.mysql) as conn, conn.cursor() as cur:
        cur.execute(f"create database {quote_ident(name)} character set utf8mb4")
    yield name
    with connect(stack.mysql) as conn, conn.cursor() as cur:
        cur.execute(f"drop database if exists {quote_ident(name)}")


def _pg_admin(settings: Settings):
    """A connection to the server's maintenance database, for CREATE/DROP DATABASE."""
    return pg_connect(settings.with_databases(pg_db="postgres").postgres)


@pytest.fixture
def pg_db(stack: Settings) -> Iterator[str]:
    name = _unique("t_wh")
    with _pg_admin(stack) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield name
    with _pg_admin(stack) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    path = tmp_path / "lake"
    path.mkdir()
    return path


@pytest.fixture
def settings(stack: Settings, mysql_db: str, pg_db: str, lake_dir: Path) -> Settings:
    """Settings pointing at this test's own source database, warehouse database and lake."""
    return stack.with_databases(mysql_db=mysql_db, pg_db=pg_db, lake_uri=f"file://{lake_dir}")


@pytest.fixture(scope="session")
def spark():
    from glue_jobs.curate_batches import build_spark

    session = build_spark("jlr-tests")
    yield session
    session.stop()


SERVICE_FIXTURES = {"stack", "settings", "mysql_db", "pg_db", "spark"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Anything that needs a real server or Spark is an integration test:
    `pytest -m "not integration"` runs the rest in seconds."""
    for item in items:
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
