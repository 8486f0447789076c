"""One table-driven map: MySQL column -> raw encoding, Spark, PostgreSQL and Redshift types.

Every stage asks this module and nothing else how a column travels:

* ``raw``: how the extractor writes the value in JSON Lines (``int``, ``float``, ``text`` (exact
  text, e.g. decimals), ``date``/``datetime`` (ISO-8601 text; zero dates become null and are
  counted), ``time`` (MySQL's text, may be negative or over 24h), ``bool`` (0/1 integer), ``bits``
  (integer value of a BIT), ``json`` (text), ``base64`` (binary).
* ``spark``: the curated type, as Spark DDL.
* ``postgres`` / ``redshift``: the staging column type.

Decisions worth knowing (see also docs in README):

* TINYINT(1) and BIT(1) are booleans; a TINYINT(1) holding anything but 0/1 is rejected by the
  curate job with a reason rather than silently coerced.
* BIGINT UNSIGNED becomes DECIMAL(20,0); other unsigned integers take the next wider signed type.
* DECIMAL with precision over 38 (Spark's and Redshift's limit) is carried as exact text.
* TIME is carried as MySQL's exact text (range -838:59:59..838:59:59 fits neither Spark nor a SQL
  TIME); dbt staging derives seconds from it.
* Redshift VARCHAR lengths count bytes: characters x bytes per character of the column's charset,
  capped at 65535. TEXT types larger than that are capped too (longer values are rejected).
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.errors import CatalogError

REDSHIFT_MAX_VARCHAR = 65535
REDSHIFT_MAX_VARBYTE = 1_024_000
MAX_DECIMAL_PRECISION = 38
BYTES_PER_CHAR = {
    "utf8mb4": 4,
    "utf8mb3": 3,
    "utf8": 3,
    "latin1": 1,
    "ascii": 1,
    "binary": 1,
    "ucs2": 2,
    "utf16": 4,
    "utf32": 4,
}

# Integer family: (signed spark, unsigned spark). Spark names map 1:1 to SQL below.
_INTEGERS = {
    "tinyint": ("smallint", "smallint"),
    "smallint": ("smallint", "int"),
    "mediumint": ("int", "int"),
    "int": ("int", "bigint"),
    "integer": ("int", "bigint"),
    "bigint": ("bigint", "decimal(20,0)"),
}
_SQL_OF_SPARK_INT = {
    "smallint": "smallint",
    "int": "integer",
    "bigint": "bigint",
    "decimal(20,0)": "numeric(20,0)",
}
_TEXT_BYTES = {"tinytext": 255, "text": 65535, "mediumtext": 16_777_215, "longtext": 4_294_967_295}
_BLOB_BYTES = {"tinyblob": 255, "blob": 65535, "mediumblob": 16_777_215, "longblob": 4_294_967_295}


@dataclass(frozen=True)
class ColumnType:
    raw: str
    spark: str
    postgres: str
    redshift: str

    def as_dict(self) -> dict[str, str]:
        return {
            "raw": self.raw,
            "spark": self.spark,
            "postgres": self.postgres,
            "redshift": self.redshift,
        }


def _varchar(chars: int | None, charset: str | None, *, pg_text_over: int = 10_485_760) -> tuple:
    chars = chars or 1
    nbytes = min(
        chars * BYTES_PER_CHAR.get((charset or "utf8mb4").lower(), 4), REDSHIFT_MAX_VARCHAR
    )
    postgres = f"varchar({chars})" if chars <= pg_text_over else "text"
    return postgres, f"varchar({nbytes})"


def map_column(column: dict) -> ColumnType:
    """Map one information_schema column (as a SourceColumn dict) to its types."""
    data_type = column["data_type"].lower()
    column_type = column["column_type"].lower()
    unsigned = "unsigned" in column_type

    if data_type == "tinyint" and column_type.startswith("tinyint(1)"):
        return ColumnType("bool", "boolean", "boolean", "boolean")
    if data_type in _INTEGERS:
        spark = _INTEGERS[data_type][1 if unsigned else 0]
        sql = _SQL_OF_SPARK_INT[spark]
        return ColumnType("int", spark, sql, sql)
    if data_type == "year":
        return ColumnType("int", "smallint", "smallint", "smallint")
    if data_type == "decimal":
        p, s = column["numeric_precision"], column["numeric_scale"] or 0
        if p > MAX_DECIMAL_PRECISION:
            return ColumnType("text", "string", "text", f"varchar({p + 2})")
        return ColumnType("text", f"decimal({p},{s})", f"numeric({p},{s})", f"decimal({p},{s})")
    if data_type == "float":
        return ColumnType("float", "float", "real", "real")
    if data_type == "double":
        return ColumnType("float", "double", "double precision", "double precision")
    if data_type == "bit":
        n = column["numeric_precision"] or 1
        if n == 1:
            return ColumnType("bits", "boolean", "boolean", "boolean")
        if n < 64:
            return ColumnType("bits", "bigint", "bigint", "bigint")
        return ColumnType("bits", "decimal(20,0)", "numeric(20,0)", "decimal(20,0)")
    if data_type == "date":
        return ColumnType("date", "date", "date", "date")
    if data_type == "datetime":
        return ColumnType("datetime", "timestamp_ntz", "timestamp", "timestamp")
    if data_type == "timestamp":
        return ColumnType("datetime", "timestamp", "timestamptz", "timestamptz")
    if data_type == "time":
        return ColumnType("time", "string", "varchar(17)", "varchar(17)")
    if data_type in ("char", "varchar", "enum", "set"):
        pg, rs = _varchar(column["char_max_length"], column["charset"])
        return ColumnType("text", "string", pg, rs)
    if data_type == "json" or column.get("is_json"):  # MariaDB: LONGTEXT + json_valid check
        return ColumnType("json", "string", "jsonb", "super")
    if data_type in _TEXT_BYTES:
        _, rs = _varchar(_TEXT_BYTES[data_type], "binary")
        return ColumnType("text", "string", "text", rs)
    if data_type in ("binary", "varbinary") or data_type in _BLOB_BYTES:
        n = column["char_max_length"] or _BLOB_BYTES.get(data_type, 1)
        return ColumnType("base64", "binary", "bytea", f"varbyte({min(n, REDSHIFT_MAX_VARBYTE)})")
    raise CatalogError(
        f"column {column['name']!r}: MySQL type {column_type!r} is not supported "
        "by the type map (ingestion/contract/typemap.py)"
    )
