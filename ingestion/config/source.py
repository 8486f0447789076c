"""Source configuration: one YAML file per MySQL source, validated once, at the edge.

Errors name the file, the table and the field, e.g.
``ingestion/sources/jlr_ops.yml: tables.sales_orders.primary_key: ...``. Identifiers are checked
here for shape; ``extract`` checks them again against the live information_schema before use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ingestion.contract.rules import TextRules
from ingestion.errors import ConfigError

SOURCES_DIR = Path(__file__).resolve().parent.parent / "sources"
# Conservative identifier shape: anything else is rejected before it gets near SQL.
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_$]{0,63}$"
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]


class TableConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    primary_key: list[Identifier] | None = Field(
        default=None,
        description="defaults to the table's PRIMARY KEY in information_schema; a table with "
        "none is keyless (mode full or append: its rows are copied as they are, identical rows "
        "included)",
    )
    mode: Literal["full", "incremental", "append"] = Field(
        default="full",
        description="full: every run extracts a consistent snapshot of the whole table and "
        "replaces staging; incremental: rows whose cursor moved since the last committed run, "
        "merged by primary key; append: rows whose cursor moved since the last run, inserted "
        "as they are (append-only tables such as logs; no key needed)",
    )
    cursor: Identifier | None = Field(
        default=None,
        description="change-tracking column (e.g. updated_at); required for incremental. "
        "When a key arrives twice, the latest cursor value wins",
    )
    lookback_seconds: int = Field(
        default=0,
        ge=0,
        le=30 * 86_400,
        description="re-read this much before the watermark (late commits of long transactions)",
    )
    safety_lag_seconds: int = Field(
        default=2,
        ge=0,
        le=86_400,
        description="a window ends this long before the server's clock at the run's start",
    )
    hard_deletes: bool = Field(
        default=False,
        description="compare primary keys with the previous run's and emit tombstones for keys "
        "that disappeared (deletes without a binlog)",
    )
    soft_delete_column: Identifier | None = Field(
        default=None,
        description="a row whose value here is set (not null, not 0) counts as deleted "
        "and is removed from staging",
    )
    chunk_rows: int = Field(
        default=500_000,
        ge=1_000,
        le=50_000_000,
        description="rows per raw file (a chunk, committed on its own)",
    )
    chunk_bytes: int = Field(
        default=256 * 2**20, ge=2**20, le=2**34, description="uncompressed bytes per raw file"
    )
    trim_strings: bool = Field(
        default=False,
        description="trim spaces around text values (off: staging holds the source's text "
        "exactly; cleaning is opted into, or done in dbt staging models)",
    )
    email_columns: list[Identifier] = Field(
        default_factory=list, description="trimmed and lowercased (before any hashing)"
    )
    pii_columns: list[Identifier] = Field(
        default_factory=list,
        description="replaced by a salted SHA-256 (hex) in the curated zone; the salt comes "
        "from JLR_PII_SALT",
    )
    partition_column: Identifier | None = Field(
        default=None,
        description="a DATE/DATETIME/TIMESTAMP column: the curated Parquet of each batch is "
        "partitioned by its month (or partition_granularity)",
    )
    partition_granularity: Literal["year", "month", "day"] = "month"
    dist_key: Identifier | None = Field(
        default=None,
        description="Redshift distribution key of the staging table (default DISTSTYLE AUTO)",
    )
    sort_keys: list[Identifier] = Field(
        default_factory=list,
        description="Redshift compound sort key of the staging table (default SORTKEY AUTO)",
    )
    streams: int = Field(
        default=1,
        ge=1,
        le=16,
        description="parallel primary-key-range streams for full extracts "
        "(single integer primary key)",
    )

    @property
    def text_rules(self) -> TextRules:
        """The normalising rules its text columns get (``ingestion.contract.rules``)."""
        return TextRules(self.trim_strings, tuple(self.email_columns), tuple(self.pii_columns))

    @model_validator(mode="after")
    def _incremental_needs_a_cursor(self) -> TableConfig:
        if self.mode in ("incremental", "append") and not self.cursor:
            raise ValueError(f"mode {self.mode} needs a cursor column")
        if self.mode == "append" and (self.hard_deletes or self.soft_delete_column):
            raise ValueError(
                "mode append inserts rows and never deletes: hard_deletes and "
                "soft_delete_column need mode incremental (and a primary key)"
            )
        if self.mode == "append" and self.lookback_seconds:
            raise ValueError(
                "mode append reads each cursor window once: lookback_seconds would insert "
                "the rows it re-reads a second time"
            )
        return self


class Connection(BaseModel):
    """Where the source's credentials come from; values themselves never live in this file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret_arn: str | None = Field(
        default=None,
        description="AWS Secrets Manager secret (RDS shape: host, port, username, password, "
        "dbname); otherwise JLR_MYSQL_HOST / _PORT / _USER / _PASSWORD",
    )
    source_time_zone: str | None = Field(
        default=None,
        description="IANA zone (e.g. Europe/London) in which the source writes DATETIME values; "
        "when set, curated DATETIMEs become UTC timestamps",
    )
    cursor_time_zone: str = Field(
        default="+00:00",
        pattern=r"^[+-](0\d|1[0-4]):[0-5]\d$",
        description="UTC offset in which the source writes its cursor columns",
    )


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Identifier
    description: str = ""
    database: Identifier | None = Field(
        default=None,
        description="MySQL schema; when the file names none, JLR_MYSQL_DATABASE (default "
        "jlr_ops) or the source secret's dbname",
    )
    warehouse_schema: Identifier = Field(description="schema of the staging tables")
    connection: Connection = Field(default_factory=Connection)
    tables: dict[Identifier, TableConfig] = Field(min_length=1)
    path: Path | None = Field(default=None, exclude=True)


def _format_error(path: Path, error: dict) -> str:
    location = ".".join(str(p) for p in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "string_pattern_mismatch":
        message = f"{error.get('input')!r} is not a valid identifier"
    elif error["type"] == "extra_forbidden":
        message = "unknown field"
    return f"{path}: {location}: {message}"


def load_source(path: Path | str) -> SourceConfig:
    path = Path(path)
    if not path.is_file():
        name = path.stem
        candidate = SOURCES_DIR / f"{name}.yml"
        if path.parent == Path(".") and candidate.is_file():
            path = candidate
        else:
            raise ConfigError(f"{path}: source configuration not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{path}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        config = SourceConfig.model_validate({**data, "path": path})
    except ValidationError as exc:
        raise ConfigError("; ".join(_format_error(path, e) for e in exc.errors())) from None
    return config


def select_tables(config: SourceConfig, wanted: list[str] | None) -> list[str]:
    """The configured tables to process, in file order; unknown names are an error."""
    if not wanted:
        return list(config.tables)
    unknown = [t for t in wanted if t not in config.tables]
    if unknown:
        raise ConfigError(
            f"{config.path}: tables: {', '.join(unknown)} not configured "
            f"(configured: {', '.join(config.tables)})"
        )
    return [t for t in config.tables if t in wanted]
