"""`reconcile`: equal after an ingest, and every kind of difference found and named."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ingestion.cli import DEFAULT_SOURCE
from ingestion.config.source import load_source
from ingestion.demo.generator import seed_database
from ingestion.lake.storage import open_lake
from ingestion.pipeline import run_ingest
from ingestion.reconcile import (
    _as_bool,
    _as_datetime,
    _as_float,
    _normalised,
    _text,
    digest,
    reconcile,
)
from ingestion.warehouse.postgres import pg_connect
from tests.ingestion.test_cli import run_cli

TABLES = ["customers", "sales_orders"]


def test_values_normalise_alike_from_both_sides():
    assert _as_float(True)("0.1") == _as_float(True)(0.10000000149011612)
    assert _as_float(False)("0.1") == repr(0.1)
    london = _as_datetime(ZoneInfo("Europe/London"))
    summer = datetime(2024, 7, 1, 11, 0, tzinfo=UTC)
    assert london("2024-07-01 12:00:00") == london(summer) == "2024-07-01 11:00:00.000000"
    assert _as_datetime(None)("0000-00-00 00:00:00") is None
    assert _as_datetime(None)(datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2)))) == (
        "2023-12-31 22:00:00.000000"
    )
    assert _as_bool(b"\x01") == _as_bool("1") == _as_bool(True) == "t"
    email = _normalised(_text, ("email", "hash"), "salt")
    expected = hashlib.sha256(b"saltann@example.com").hexdigest()
    assert email("  Ann@Example.COM ") == expected  # what the curate job stores
    assert email("   ") is None
    assert digest(None) != digest("") != digest("null")
    assert str(Decimal("12.50")) == "12.50"
    assert date(2024, 1, 2).isoformat() == "2024-01-02"


@pytest.fixture
def ingested(settings):
    config = load_source(DEFAULT_SOURCE)
    database = settings.mysql.database
    seed_database(settings.mysql, database, 0.001, 11)
    runs = run_ingest(config, settings, database, TABLES)
    assert all(r.status == "ok" for r in runs), [(r.table, r.error) for r in runs]
    return config, database


def run_reconcile(settings, config, database):
    lake = open_lake(settings.lake_uri)
    return {r.table: r for r in reconcile(config, settings, database, lake, TABLES)}


def warehouse(settings, statement, params=()):
    with pg_connect(settings.postgres) as conn:
        conn.execute(statement, params)


def test_reconcile_is_equal_after_an_ingest_and_finds_each_kind_of_difference(settings, ingested):
    config, database = ingested
    result = run_reconcile(settings, config, database)
    assert {t: r.equal for t, r in result.items()} == {t: True for t in TABLES}
    assert result["customers"].rejected > 0  # the planted bad booleans: explained, not missing
    assert result["customers"].columns_compared == 11
    assert result["sales_orders"].source_rows == result["sales_orders"].staging_rows > 0

    # through the command line: a table, one line per table as JSON, exit 0
    env = {**os.environ, **settings.to_env()}
    cli = run_cli("reconcile", "--tables", "sales_orders", env={**env, "LOG_FORMAT": "json"})
    assert cli.returncode == 0, cli.stderr
    (line,) = [json.loads(x) for x in cli.stdout.splitlines() if x.startswith("{")]
    assert line["event"] == "table_reconciled" and line["equal"] is True

    staging = "jlr_ops_staging"
    warehouse(
        settings,
        f"update {staging}.sales_orders set net_price = net_price + 0.01 "
        f"where order_id = (select min(order_id) from {staging}.sales_orders)",
    )
    warehouse(
        settings,
        f"delete from {staging}.customers "
        f"where customer_id = (select max(customer_id) from {staging}.customers)",
    )
    # PostgreSQL's staging refuses a second row for a key (unique index); Redshift's primary keys
    # are not enforced, so plant the duplicate as Redshift could hold it
    warehouse(settings, f"drop index {staging}.sales_orders__pk")
    warehouse(
        settings,
        f"insert into {staging}.sales_orders select * from {staging}.sales_orders "
        f"where order_id = (select max(order_id) from {staging}.sales_orders)",
    )
    warehouse(
        settings,
        f"update {staging}.customers set email = md5('x') "
        f"where customer_id = (select min(customer_id) from {staging}.customers)",
    )
    result = run_reconcile(settings, config, database)
    orders, customers = result["sales_orders"], result["customers"]
    assert orders.columns_differing == ["net_price"]
    assert len(orders.duplicate_keys) == 1 and not orders.missing and not orders.extra
    assert len(customers.missing) == 1 and customers.columns_differing == ["email"]

    human = {**env, "LOG_FORMAT": "human", "COLUMNS": "160"}
    cli = run_cli("reconcile", "--tables", ",".join(TABLES), env=human)
    assert cli.returncode == 1
    assert "differs in net_price" in cli.stdout and "Traceback" not in cli.stderr
    assert "not explained by rejects" in cli.stdout
