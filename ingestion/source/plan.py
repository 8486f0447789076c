"""A configured table checked against the live information_schema, before any data moves."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ingestion.config.source import SourceConfig, TableConfig, resolve_tables, subset
from ingestion.contract.names import RESERVED_COLUMNS, collisions, warehouse_name
from ingestion.contract.typemap import map_column
from ingestion.errors import (
    CatalogError,
    ConfigError,
    NameCollisionError,
    TableError,
    UnsupportedTypeError,
)
from ingestion.source import binlog
from ingestion.source.mysql import SourceColumn, base_tables, primary_key, table_columns

INTEGER_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}


@dataclass(frozen=True)
class TablePlan:
    """A configured table checked against the live information_schema."""

    table: str
    columns: list[SourceColumn]
    primary_key: list[str]
    config: TableConfig

    @property
    def keyless(self) -> bool:
        """No key: rows are copied as they are (mode full or append), identical ones included."""
        return not self.primary_key

    @property
    def cursor(self) -> str | None:
        return self.config.cursor

    @property
    def warehouse_table(self) -> str:
        """The table's name in the lake, the catalog and the warehouse (``contract.names``)."""
        return warehouse_name(self.table)

    def column(self, name: str) -> SourceColumn:
        return next(c for c in self.columns if c.name == name)


def source_tables(
    config: SourceConfig, conn, database: str, wanted: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """The tables a run works on: the file's names and patterns resolved against the live
    catalog (``resolve_tables``), or the ``wanted`` subset; and the warnings to show. None
    selected is an error."""
    chosen, warnings = resolve_tables(config, base_tables(conn, database))
    tables = subset(config, chosen, wanted)
    if not tables:
        raise ConfigError(f"{config.path}: tables: no table of {database!r} is selected")
    check_table_names(config, tables)
    return tables, warnings


def check_table_names(config: SourceConfig, tables: list[str]) -> None:
    """Two selected tables with the same warehouse name would share a staging table: one error
    naming them, before any data moves."""
    if problems := collisions(tables):
        raise ConfigError(
            f"{config.path}: tables: {'; '.join(problems)}; leave one out with exclude "
            "(the warehouse-name rule is in the README)"
        )


def _selected_columns(where: str, columns: list[SourceColumn], tcfg: TableConfig) -> list:
    """The columns to copy: ``columns`` or all but ``exclude_columns``; each name must exist."""
    names = {c.name for c in columns}
    for fieldname in ("columns", "exclude_columns"):
        for name in getattr(tcfg, fieldname) or []:
            if name not in names:
                raise ConfigError(f"{where}.{fieldname}: column {name!r} does not exist")
    if tcfg.columns is not None:
        return [c for c in columns if c.name in tcfg.columns]
    return [c for c in columns if c.name not in tcfg.exclude_columns]


def plan_table(config: SourceConfig, conn, database: str, table: str) -> TablePlan:
    where = f"{config.path}: tables.{table}"
    all_columns = table_columns(conn, database, table)
    if not all_columns:
        raise ConfigError(f"{where}: table {table!r} does not exist in MySQL database {database!r}")
    tcfg = config.table(table)
    columns = _selected_columns(where, all_columns, tcfg)
    names = {c.name for c in columns}
    if problems := collisions([c.name for c in columns], RESERVED_COLUMNS):
        raise NameCollisionError(
            f"table {table!r}: {'; '.join(problems)}; leave one out with exclude_columns "
            "(the warehouse-name rule is in the README)"
        )
    left_out = {c.name for c in all_columns} - names
    pk = list(tcfg.primary_key) if tcfg.primary_key else primary_key(conn, database, table)
    merged = tcfg.mode in ("incremental", "cdc")
    if not pk and (merged or tcfg.hard_deletes or tcfg.soft_delete_column):
        need = f"mode {tcfg.mode} needs" if merged else "deletes need"
        raise ConfigError(
            f"{where}.primary_key: the table has no PRIMARY KEY and {need} one to know "
            "which row changed; declare the columns that identify a row, or use mode full "
            "(a copy of every row) or append (an append-only table)"
        )

    def check(fieldname: str, name: str) -> None:
        if name in left_out:
            raise ConfigError(
                f"{where}.{fieldname}: column {name!r} is left out by columns/exclude_columns"
            )
        if name not in names:
            raise ConfigError(f"{where}.{fieldname}: column {name!r} does not exist")

    for name in pk:
        check("primary_key", name)
    for fieldname in ("cursor", "soft_delete_column", "partition_column", "dist_key"):
        if value := getattr(tcfg, fieldname):
            check(fieldname, value)
    for value in tcfg.sort_keys:
        check("sort_keys", value)
    for fieldname in ("email_columns", "pii_columns", "column_types"):
        for value in getattr(tcfg, fieldname):
            check(fieldname, value)
    columns = [replace(c, override=tcfg.column_types.get(c.name)) for c in columns]
    partition = tcfg.partition_column
    if partition and next(c for c in columns if c.name == partition).data_type not in (
        "date",
        "datetime",
        "timestamp",
    ):
        raise ConfigError(
            f"{where}.partition_column: {partition!r} is not a DATE, DATETIME or TIMESTAMP column"
        )
    partition_key = f"{warehouse_name(partition or '')}_{tcfg.partition_granularity}"
    if partition and partition_key in {warehouse_name(n) for n in names}:
        raise ConfigError(
            f"{where}.partition_column: the partition key {partition_key} is already a column"
        )
    raws = {}
    for column in columns:  # an unsupported type fails this table here, before any data moves
        try:
            raws[column.name] = map_column(column.as_dict()).raw
        except CatalogError as exc:
            raise UnsupportedTypeError(f"table {table!r}, {exc}") from None
    for value in [tcfg.dist_key, *tcfg.sort_keys]:
        if value and raws[value] == "ewkb":
            raise ConfigError(
                f"{where}: {value!r} is a spatial column; Redshift cannot distribute or sort "
                "by a GEOMETRY"
            )
    if tcfg.mode == "cdc" and (problems := binlog.preflight(conn)[0]):
        raise TableError(
            f"table {table!r}: mode cdc: the server is not ready: {'; '.join(problems)}"
        )
    plan = TablePlan(table, columns, pk, tcfg)
    if tcfg.streams > 1 and (len(pk) != 1 or plan.column(pk[0]).data_type not in INTEGER_TYPES):
        raise ConfigError(f"{where}.streams: parallel streams need a single integer primary key")
    return plan
