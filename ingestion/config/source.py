"""Source configuration: one YAML file per MySQL source, validated once, at the edge.

Errors name the file, the table and the field, e.g.
``ingestion/sources/jlr_ops.yml: tables.sales_orders.primary_key: ...``. Identifiers are checked
here for shape; ``extract`` checks them again against the live information_schema before use.
"""

from __future__ import annotations

import fnmatch
import json
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
# The names this project gives (a source, a staging schema): plain identifiers.
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_$]{0,63}$"
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
# A MySQL database, table or column name: any text MySQL accepts as a quoted name (1-64
# characters, no NUL, not ending in a space). It is quoted on the source side and checked against
# information_schema before use; the lake and the warehouse spell it by the warehouse-name rule
# (ingestion.contract.names).
MYSQL_NAME_PATTERN = r"^[^\x00]{0,63}[^\x00 ]$"
SourceName = Annotated[str, StringConstraints(pattern=MYSQL_NAME_PATTERN)]
# a table entry: a name, or a glob pattern of names (*, ?, [...]); a table whose name is
# exactly the entry is that table, whatever characters its name holds
TableName = SourceName


class TableConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    primary_key: list[SourceName] | None = Field(
        default=None,
        description="defaults to the table's PRIMARY KEY in information_schema; a table with "
        "none is keyless (mode full or append: its rows are copied as they are, identical rows "
        "included)",
    )
    mode: Literal["full", "incremental", "append", "cdc"] = Field(
        default="full",
        description="full: every run extracts a consistent snapshot of the whole table and "
        "replaces staging; incremental: rows whose cursor moved since the last committed run, "
        "merged by primary key; append: rows whose cursor moved since the last run, inserted "
        "as they are (append-only tables such as logs; no key needed); cdc: the rows the "
        "binary log says were inserted, updated or deleted since the last run (no cursor "
        "needed; a primary key is), merged by primary key",
    )
    on_binlog_loss: Literal["fail", "resnapshot"] = Field(
        default="fail",
        description="mode cdc, when the committed binlog position is no longer on the server "
        "(purged, or another server): fail (say so and stop the table) or resnapshot (copy "
        "the table afresh, then stream from there)",
    )
    cursor: SourceName | None = Field(
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
    soft_delete_column: SourceName | None = Field(
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
    email_columns: list[SourceName] = Field(
        default_factory=list, description="trimmed and lowercased (before any hashing)"
    )
    pii_columns: list[SourceName] = Field(
        default_factory=list,
        description="replaced by a salted SHA-256 (hex) in the curated zone; the salt comes "
        "from JLR_PII_SALT",
    )
    partition_column: SourceName | None = Field(
        default=None,
        description="a DATE/DATETIME/TIMESTAMP column: the curated Parquet of each batch is "
        "partitioned by its month (or partition_granularity)",
    )
    partition_granularity: Literal["year", "month", "day"] = "month"
    dist_key: SourceName | None = Field(
        default=None,
        description="Redshift distribution key of the staging table (default DISTSTYLE AUTO)",
    )
    sort_keys: list[SourceName] = Field(
        default_factory=list,
        description="Redshift compound sort key of the staging table (default SORTKEY AUTO)",
    )
    columns: list[SourceName] | None = Field(
        default=None,
        description="copy only these columns (the key and the cursor must be among them)",
    )
    exclude_columns: list[SourceName] = Field(
        default_factory=list,
        description="leave these columns out (a large BLOB, a secret); never the key or cursor",
    )
    column_types: dict[SourceName, Literal["integer", "boolean"]] = Field(
        default_factory=dict,
        description="read a column as another type than the type map's default: integer (a "
        "TINYINT(1) or BIT(1) used as a number), boolean (an integer column used as a flag)",
    )
    zero_dates: Literal["null", "reject"] = Field(
        default="null",
        description="zero dates and zero-in-date values (0000-00-00, 2019-00-00, "
        "0000-00-00 14:02:10): null: NULL in the curated zone, counted per column, the text "
        "kept in the raw zone; reject: the row is quarantined with the reason",
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
        if self.columns is not None and self.exclude_columns:
            raise ValueError("columns and exclude_columns: name the columns one way, not both")
        if self.mode == "cdc" and (self.cursor or self.hard_deletes or self.lookback_seconds):
            raise ValueError(
                "mode cdc reads changes and deletes from the binary log: it takes no cursor, "
                "hard_deletes or lookback_seconds"
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
    database: SourceName | None = Field(
        default=None,
        description="MySQL schema; when the file names none, JLR_MYSQL_DATABASE (default "
        "jlr_ops) or the source secret's dbname",
    )
    warehouse_schema: Identifier = Field(description="schema of the staging tables")
    connection: Connection = Field(default_factory=Connection)
    tables: dict[TableName, TableConfig] = Field(
        min_length=1,
        description="table name -> its settings; a name may be a glob pattern (orders_*, "
        "log_20??), matched against the live catalog at the start of a run",
    )
    exclude: list[TableName] = Field(
        default_factory=list, description="table names or patterns never copied"
    )
    path: Path | str | None = Field(default=None, exclude=True)  # str: an s3:// URI

    def table(self, name: str) -> TableConfig:
        """The settings of a concrete table: its own entry, else the first pattern matching it
        (file order); the ``defaults:`` block is already merged into each entry."""
        if name in self.tables:  # its own entry, even where the name looks like a pattern
            return self.tables[name]
        for key, tcfg in self.tables.items():
            if is_pattern(key) and matches(name, key):
                return tcfg
        raise ConfigError(f"{self.path}: tables: {name!r} is not configured")

    @property
    def named_tables(self) -> list[str]:
        """The tables the file names outright (not through a pattern), in file order."""
        return [t for t in self.tables if not is_pattern(t)]

    def excluded(self, name: str) -> bool:
        return any(matches(name, p) for p in self.exclude)


def is_pattern(name: str) -> bool:
    return any(c in name for c in "*?[")


def matches(name: str, entry: str) -> bool:
    """A table name against a ``tables:``/``exclude:`` entry: the entry itself (a MySQL name may
    hold ``*``, ``?`` or ``[``), or a name its glob pattern matches."""
    return name == entry or fnmatch.fnmatchcase(name, entry)


def _merge_defaults(path: Path | str, data: dict) -> dict:
    """``defaults:`` and ``include:`` folded into ``tables:``: each entry is the defaults
    overridden by its own fields; each include pattern is an entry of its own (after the
    file's entries, so those win)."""
    defaults = data.pop("defaults", None) or {}
    include = data.pop("include", None) or []
    if not isinstance(defaults, dict):
        raise ConfigError(f"{path}: defaults: expected a mapping of table settings")
    unknown = [k for k in defaults if k not in TableConfig.model_fields]
    if unknown:
        raise ConfigError(f"{path}: defaults.{unknown[0]}: unknown field")
    if not isinstance(include, list):
        raise ConfigError(f"{path}: include: expected a list of table names or patterns")
    tables = data.get("tables") or {}
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: tables: expected a mapping of table name -> settings")
    for pattern in include:
        tables.setdefault(pattern, {})
    data["tables"] = {
        name: {**defaults, **(entry or {})} if isinstance(entry or {}, dict) else entry
        for name, entry in tables.items()
    }
    return data


def _format_error(path: Path | str, error: dict) -> str:
    location = ".".join(str(p) for p in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "string_pattern_mismatch":
        if error.get("ctx", {}).get("pattern") == MYSQL_NAME_PATTERN:
            message = (
                f"{error.get('input')!r} is not a MySQL name (1 to 64 characters, no NUL, "
                "not ending in a space)"
            )
        else:
            message = f"{error.get('input')!r} is not a valid identifier"
    elif error["type"] == "extra_forbidden":
        message = "unknown field"
    return f"{path}: {location}: {message}"


def _read_s3(uri: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from ingestion.aws import client

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        return client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise ConfigError(f"{uri}: cannot read the source file ({code})") from None
    except BotoCoreError as exc:
        raise ConfigError(f"{uri}: cannot read the source file ({exc})") from None


def load_source(path: Path | str) -> SourceConfig:
    """A source file, from a path (or a bare name: ``ingestion/sources/<name>.yml``) or an
    ``s3://`` URI (where deploy uploads them)."""
    if str(path).startswith("s3://"):
        return _parse(str(path), _read_s3(str(path)))
    path = Path(path)
    if not path.is_file():
        name = path.stem
        candidate = SOURCES_DIR / f"{name}.yml"
        if path.parent == Path(".") and candidate.is_file():
            path = candidate
        else:
            raise ConfigError(f"{path}: source configuration not found")
    return _parse(path, path.read_text(encoding="utf-8"))


def _parse(path: Path | str, text: str) -> SourceConfig:
    """``path``: where the text came from, as error messages name it (an s3:// URI stays one)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{path}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    data = _merge_defaults(path, data)
    try:
        config = SourceConfig.model_validate({**data, "path": path})
    except ValidationError as exc:
        raise ConfigError("; ".join(_format_error(path, e) for e in exc.errors())) from None
    return config


def resolve_tables(
    config: SourceConfig, available: list[str] | None
) -> tuple[list[str], list[str]]:
    """The concrete tables the file selects, and a warning per pattern matching none.

    ``available``: the source's base tables (``None`` where the catalog cannot be read, e.g. in
    a Glue job: then only the names the file gives outright). Named tables come first, in file
    order, whether or not they exist (the run then says so for that table); then each pattern's
    matches, sorted, in file order of the patterns; ``exclude`` removes from both.
    """
    chosen = [t for t in config.named_tables if not config.excluded(t)]
    warnings = []
    if available is not None:
        for key in config.tables:
            if not is_pattern(key):
                continue
            found = sorted(t for t in available if matches(t, key))
            if not found:
                warnings.append(f"{config.path}: tables.{key}: the pattern matches no table")
            chosen += [t for t in found if t not in chosen and not config.excluded(t)]
    return chosen, warnings


def select_tables(
    config: SourceConfig, wanted: list[str] | None, available: list[str] | None = None
) -> list[str]:
    """The tables to process: the file's selection (``resolve_tables``), or the ``wanted``
    subset of it; a wanted name the file does not select is an error."""
    return subset(config, resolve_tables(config, available)[0], wanted)


def subset(config: SourceConfig, chosen: list[str], wanted: list[str] | None) -> list[str]:
    """``wanted`` out of the file's selection ``chosen`` (all of it when none is wanted), in
    the selection's order; a wanted name the file does not select is an error."""
    if not wanted:
        return chosen
    unknown = [t for t in wanted if t not in chosen]
    if unknown:
        raise ConfigError(
            f"{config.path}: tables: {', '.join(unknown)} not configured "
            f"(configured: {', '.join(chosen)})"
        )
    return [t for t in chosen if t in wanted]


def table_list(value: str, option: str = "--TABLES") -> list[str]:
    """A list of table names given on a command line: a JSON array (what the state machine
    passes, ``States.JsonToString``; any name survives it) or a comma-separated list."""
    value = value.strip()
    if value.startswith("["):
        try:
            tables = json.loads(value)
        except ValueError:
            tables = None
        if not isinstance(tables, list) or not all(isinstance(t, str) for t in tables):
            raise ConfigError(f"{option}: {value!r} is not a JSON array of table names")
        return tables
    return [t for t in value.split(",") if t]
