import json
from pathlib import Path

import pytest

from ingestion.config.source import load_source, resolve_tables, select_tables
from ingestion.errors import ConfigError

GOOD = """
name: shop
database: shop
warehouse_schema: shop_staging
tables:
  orders:
    primary_key: [order_id]
    cursor: updated_at
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shop.yml"
    path.write_text(text)
    return path


def test_the_shipped_source_config_loads():
    config = load_source(Path("ingestion/sources/jlr_ops.yml"))
    assert config.name == "jlr_ops"
    assert config.tables["sales_orders"].primary_key == ["order_id"]
    assert len(config.tables) == 9


def test_valid_config(tmp_path):
    config = load_source(write(tmp_path, GOOD))
    assert config.tables["orders"].cursor == "updated_at"
    assert config.tables["orders"].mode == "full"


def test_unknown_field_names_file_table_and_field(tmp_path):
    path = write(tmp_path, GOOD + "    chunk_size: 10\n")
    with pytest.raises(ConfigError) as err:
        load_source(path)
    assert str(err.value) == f"{path}: tables.orders.chunk_size: unknown field"


def test_any_mysql_name_is_kept_as_written_and_others_are_refused(tmp_path):
    # MySQL accepts any text as a quoted name: it is kept verbatim (the run checks it against
    # information_schema and only ever uses it quoted, tests/e2e/test_any_database.py)
    odd = "id`; drop table x; --"
    config = load_source(write(tmp_path, GOOD.replace("[order_id]", json.dumps([odd]))))
    assert config.tables["orders"].primary_key == [odd]
    for bad, shown in (("id ", "'id '"), ("a\\u0000b", "'a\\x00b'"), ("x" * 65, "'xxx")):
        path = write(tmp_path, GOOD.replace("[order_id]", f'["{bad}"]'))
        with pytest.raises(ConfigError) as err:
            load_source(path)
        assert f"tables.orders.primary_key.0: {shown}" in str(err.value)
        assert "is not a MySQL name (1 to 64 characters, no NUL, not ending in a space)" in str(
            err.value
        )


def test_malformed_yaml_reports_the_line(tmp_path):
    path = write(tmp_path, GOOD + "  bad: [unclosed\n")
    with pytest.raises(ConfigError, match=r"shop\.yml: line \d+: not valid YAML"):
        load_source(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="source configuration not found"):
        load_source(tmp_path / "nope.yml")


def test_select_tables_rejects_unknown_names(tmp_path):
    config = load_source(write(tmp_path, GOOD))
    assert select_tables(config, None) == ["orders"]
    with pytest.raises(ConfigError, match="tables: customers not configured"):
        select_tables(config, ["customers"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    mode: append\n    hard_deletes: true\n", "inserts rows and never deletes"),
        ("    mode: append\n    lookback_seconds: 60\n", "would insert the rows it re-reads"),
    ],
)
def test_append_mode_refuses_what_would_delete_or_double_rows(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        load_source(write(tmp_path, GOOD + extra))


RULES = """
name: shop
database: shop
warehouse_schema: shop_staging
defaults:
  chunk_rows: 5000
  trim_strings: true
include: [audit_*]
exclude: ["*_tmp", orders_old]
tables:
  orders:
    primary_key: [order_id]
    trim_strings: false
  "order_*":
    exclude_columns: [blob]
  orders_old: {}
  missing: {}
  "zz_*": {}
"""


def test_table_rules_resolve_names_patterns_defaults_and_exclusions(tmp_path):
    config = load_source(write(tmp_path, RULES))
    available = ["audit_2024", "order_lines", "order_tmp", "orders", "orders_old", "plants"]
    tables, warnings = resolve_tables(config, available)
    # named first (a missing one is kept, for the run to report), then each pattern's matches
    assert tables == ["orders", "missing", "order_lines", "audit_2024"]
    assert warnings == [f"{config.path}: tables.zz_*: the pattern matches no table"]
    orders, lines, audit = (config.table(t) for t in ("orders", "order_lines", "audit_2024"))
    assert (orders.chunk_rows, orders.trim_strings) == (5000, False)  # an entry's own field wins
    assert (lines.exclude_columns, lines.trim_strings) == (["blob"], True)
    assert audit.chunk_rows == 5000
    assert select_tables(config, ["order_lines"], available) == ["order_lines"]
    with pytest.raises(ConfigError, match="order_tmp not configured"):
        select_tables(config, ["order_tmp"], available)
    # without a catalog (a Glue job given no table list): the names the file gives outright
    assert resolve_tables(config, None)[0] == ["orders", "missing"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("defaults:\n  chunk_size: 1\n", r"defaults\.chunk_size: unknown field"),
        (
            "    columns: [order_id]\n    exclude_columns: [note]\n",
            "name the columns one way, not both",
        ),
    ],
)
def test_table_rules_are_checked(tmp_path, text, message):
    body = GOOD + text if text.startswith(" ") else text + GOOD
    with pytest.raises(ConfigError, match=message):
        load_source(write(tmp_path, body))
