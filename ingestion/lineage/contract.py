"""The curate contract's side of column lineage: what the pipeline did to a MySQL column on its
way to its staging column (its MySQL name, and the normalising rules it got: trimmed, lowercased,
hashed, moved to UTC, zero dates made NULL), from the table's configuration and the MySQL types
its newest raw manifest recorded. No SQL parser here: the Lambda and the Glue jobs use it for
their OpenLineage events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingestion.contract import rules
from ingestion.contract.names import warehouse_name
from ingestion.lake import layout, manifests
from ingestion.lake.manifests import LINEAGE_COLUMNS, RawManifest
from ingestion.lake.storage import Lake
from ingestion.warehouse.interface import LOADED_AT

CURATE = "curate"
COPIED, RENAMED = "copied", "renamed"
ROWS = "*"  # a table's rows (what a count(*) reads)
# the columns the pipeline adds to every staging table (no MySQL origin)
PIPELINE_COLUMNS = frozenset({c[0] for c in LINEAGE_COLUMNS} | {LOADED_AT})
# what the contract's rules are called in the lineage
RULE_KINDS = {
    rules.TRIM: ("trimmed",),
    rules.EMAIL: ("trimmed", "lowercased"),
    rules.HASH: ("hashed",),
}
MOVED_TO_UTC, ZERO_DATES_NULL = "moved to UTC", "zero dates made NULL"


@dataclass(frozen=True)
class SourceColumn:
    """Where a staging column came from, per the curate contract."""

    origin: str  # mysql | pipeline
    source: str  # <mysql database>.<table>, or the pipeline's table
    column: str  # the MySQL column name (as MySQL spells it)
    kinds: tuple[str, ...]  # the pipeline's hop: copied, renamed and the contract's rules
    mysql_type: str | None = None


SourceLookup = Callable[[dict, str], SourceColumn]


@dataclass(frozen=True)
class TableContract:
    """What the pipeline knows of one source table: its MySQL columns (from the newest raw
    manifest; none before the first extract) and the table's rules."""

    database: str
    table: str
    columns: dict[str, dict]  # warehouse name -> raw manifest column
    text_rules: rules.TextRules
    source_time_zone: str | None
    zero_dates: str  # null | reject


def newest_raw(lake: Lake, source: str, table: str) -> RawManifest | None:
    keys = layout.raw_manifests(lake, source, table)
    return manifests.read_raw(lake, keys[-1]) if keys else None


def table_contract(
    config, table: str, raw: RawManifest | None, default_database: str | None = None
) -> TableContract:
    """A table's contract: its configuration's rules and, given its raw manifest, the MySQL
    columns that run recorded."""
    table_config = config.table(table)
    return TableContract(
        database=raw.database if raw else (config.database or default_database),
        table=table,
        columns={warehouse_name(c["name"]): c for c in raw.columns} if raw else {},
        text_rules=table_config.text_rules,
        source_time_zone=config.connection.source_time_zone,
        zero_dates=table_config.zero_dates,
    )


def contract_column(contract: TableContract, column: str) -> SourceColumn:
    """A staging column's origin: a MySQL column with the pipeline's hop, or a pipeline column."""
    if column == ROWS:
        return SourceColumn("mysql", f"{contract.database}.{contract.table}", ROWS, (COPIED,))
    if column in PIPELINE_COLUMNS:
        return SourceColumn(
            "pipeline", f"{contract.database}.{contract.table}", column, ("derived",)
        )
    raw = contract.columns.get(column)
    if raw is None:  # never extracted yet: the name is all the contract says
        kinds = [
            k
            for step in rules.column_rules(
                column, {"raw": "text", "spark": "string"}, contract.text_rules
            )
            for k in RULE_KINDS[step]
        ]
        return SourceColumn(
            "mysql", f"{contract.database}.{contract.table}", column, tuple(kinds) or (COPIED,)
        )
    mysql_name = raw.get("source_name", raw["name"])
    kinds: list[str] = [RENAMED] if warehouse_name(mysql_name) != mysql_name else []
    for step in rules.column_rules(column, raw["types"], contract.text_rules):
        kinds += [k for k in RULE_KINDS[step] if k not in kinds]
    if rules.to_utc(raw["types"], contract.source_time_zone):
        kinds.append(MOVED_TO_UTC)
    if raw["types"]["raw"] in ("date", "datetime") and contract.zero_dates == "null":
        kinds.append(ZERO_DATES_NULL)
    return SourceColumn(
        "mysql",
        f"{contract.database}.{contract.table}",
        mysql_name,
        tuple(kinds) or (COPIED,),
        raw.get("column_type"),
    )


def read_contracts(
    lake: Lake, configs, default_database: str
) -> dict[tuple[str, str], TableContract]:
    """``{(source name, table): contract}`` for every table of the given source configurations,
    with the MySQL columns of its newest committed raw run."""
    return {
        (config.name, table): table_contract(
            config, table, newest_raw(lake, config.name, table), default_database
        )
        for config in configs
        for table in config.tables
    }


def source_lookup(contracts: dict[tuple[str, str], TableContract]) -> SourceLookup:
    """How a dbt source column is traced: through the contract of the ingestion source of the
    same name; a source the pipeline does not extract (its own audit tables) is the pipeline's."""

    def lookup(node: dict, column: str) -> SourceColumn:
        contract = contracts.get((node["source_name"], node["name"]))
        if contract is None:
            return SourceColumn("pipeline", f"{node['schema']}.{node['name']}", column, (COPIED,))
        return contract_column(contract, column)

    return lookup
