"""One table-driven map: MySQL column -> raw encoding, Spark, PostgreSQL and Redshift types.

Every stage asks this module and nothing else how a column travels:

* ``raw``: how the extractor writes the value in JSON Lines (``int``, ``float``, ``text`` (exact
  text, e.g. decimals), ``date``/``datetime`` (ISO-8601 text; zero dates become null and are
  counted), ``time`` (MySQL's text, may be negative or over 24h), ``bool`` (0/1 integer), ``bits``
  (integer value of a BIT), ``json`` (text), ``base64`` (binary), ``ewkb`` (a spatial value as
  upper-case hex EWKB: WKB with its SRID, as PostGIS and Redshift read it).
* ``spark``: the curated type, as Spark DDL.
* ``postgres`` / ``redshift``: the staging column type.

Decisions worth knowing (see also docs in README):

* TINYINT(1) and BIT(1) are booleans; a TINYINT(1) holding anything but 0/1 is rejected by the
  curate job with a reason rather than silently coerced. A source file says otherwise per column
  (``column_types: {flag: integer}``: a TINYINT(1) used as a small integer; ``boolean`` for
  another integer column used as a flag); the column dict then carries ``override``.
* Spatial types (GEOMETRY, POINT, LINESTRING, POLYGON, MULTI*, GEOMETRYCOLLECTION) are PostGIS
  ``geometry`` locally and ``GEOMETRY`` on Redshift, SRID kept. A value over 32,767 bytes of EWKB
  (65,535 hex digits, what Redshift's staging VARCHAR holds) is rejected with the reason.
* MariaDB's INET4, INET6 and UUID are their canonical text (VARCHAR 15, 45, 36) on both
  warehouses, which have no common type for them.
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


SPATIAL_TYPES = {
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
    "geomcollection",  # MySQL 8's name for it
}
# the longest text of each: INET6 with an embedded IPv4 address, UUID with its hyphens
_NETWORK = {"inet4": 15, "inet6": 45, "uuid": 36}
# a GEOMETRY travels to Redshift as hex text in a VARCHAR: at most 65535 hex digits
GEOMETRY_HEX_LIMIT = REDSHIFT_MAX_VARCHAR


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

    override = column.get("override")
    if override == "boolean" and (data_type in _INTEGERS or data_type == "bit"):
        return ColumnType("bool", "boolean", "boolean", "boolean")
    if override == "integer" and data_type == "bit":
        return ColumnType("bits", "bigint", "bigint", "bigint")
    if override not in (None, "integer", "boolean") or (
        override == "integer" and data_type not in _INTEGERS
    ):
        raise CatalogError(
            f"column {column['name']!r}: MySQL type {column_type!r} cannot be read as "
            f"{override!r} (column_types: integer for TINYINT(1)/BIT(1), boolean for integers)"
        )
    if data_type == "tinyint" and column_type.startswith("tinyint(1)") and override is None:
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
    if data_type in SPATIAL_TYPES:
        # hex EWKB (the SRID kept); Redshift's COPY takes GEOMETRY only from text, so the load
        # stages it as VARCHAR (the byte limit below) and converts with ST_GeomFromEWKB
        return ColumnType("ewkb", "string", "geometry", "geometry")
    if data_type in _NETWORK:  # MariaDB: text in their canonical form (neither warehouse's
        n = _NETWORK[data_type]  # inet/uuid type: the same text on both, compared as text)
        return ColumnType("text", "string", f"varchar({n})", f"varchar({n})")
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


def _example(data_type: str, column_type: str, **fields) -> dict:
    return {"data_type": data_type, "column_type": column_type, **fields}


# One example column per row of the README's type table (``markdown_table``; a test checks that
# the README shows exactly this): (what the row covers, information_schema fields).
EXAMPLES: list[tuple[str, dict]] = [
    ("TINYINT(1), BOOL", _example("tinyint", "tinyint(1)")),
    (
        "TINYINT(1) with `column_types: {c: integer}`",
        _example("tinyint", "tinyint(1)", override="integer"),
    ),
    ("TINYINT, TINYINT UNSIGNED, SMALLINT", _example("smallint", "smallint")),
    ("SMALLINT UNSIGNED, MEDIUMINT [UNSIGNED], INT", _example("int", "int(11)")),
    ("INT UNSIGNED, BIGINT", _example("bigint", "bigint(20)")),
    ("BIGINT UNSIGNED", _example("bigint", "bigint(20) unsigned")),
    ("YEAR", _example("year", "year(4)")),
    (
        "DECIMAL(p,s), p ≤ 38",
        _example("decimal", "decimal(12,2)", numeric_precision=12, numeric_scale=2),
    ),
    (
        "DECIMAL(p,s), p > 38",
        _example("decimal", "decimal(65,30)", numeric_precision=65, numeric_scale=30),
    ),
    ("FLOAT", _example("float", "float")),
    ("DOUBLE", _example("double", "double")),
    ("BIT(1)", _example("bit", "bit(1)", numeric_precision=1)),
    ("BIT(2) … BIT(63)", _example("bit", "bit(12)", numeric_precision=12)),
    ("BIT(64)", _example("bit", "bit(64)", numeric_precision=64)),
    ("DATE", _example("date", "date")),
    ("DATETIME(fsp)", _example("datetime", "datetime(6)")),
    ("TIMESTAMP(fsp)", _example("timestamp", "timestamp(6)")),
    ("TIME(fsp)", _example("time", "time(6)")),
    (
        "CHAR(n), VARCHAR(n), ENUM, SET (n = 40, utf8mb4)",
        _example("varchar", "varchar(40)", char_max_length=40, charset="utf8mb4"),
    ),
    ("TINYTEXT, TEXT, MEDIUMTEXT, LONGTEXT", _example("text", "text")),
    ("JSON (MariaDB: LONGTEXT with json_valid)", _example("json", "json")),
    (
        "BINARY(n), VARBINARY(n), *BLOB (n = 16)",
        _example("varbinary", "varbinary(16)", char_max_length=16),
    ),
    (
        "GEOMETRY, POINT, LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING, MULTIPOLYGON, "
        "GEOMETRYCOLLECTION (with SRID)",
        _example("geometry", "geometry"),
    ),
    ("INET4 (MariaDB)", _example("inet4", "inet4")),
    ("INET6 (MariaDB)", _example("inet6", "inet6")),
    ("UUID (MariaDB)", _example("uuid", "uuid")),
]


def markdown_table() -> str:
    """The type map as the README shows it, computed from ``map_column``."""
    lines = [
        "| MySQL / MariaDB column | raw JSON | curated Parquet (Spark) | PostgreSQL | Redshift |",
        "|---|---|---|---|---|",
    ]
    for shown, fields in EXAMPLES:
        column = {"name": "c", "char_max_length": None, "numeric_precision": None,
                  "numeric_scale": None, "charset": None, **fields}  # fmt: skip
        t = map_column(column)
        lines.append(f"| {shown} | `{t.raw}` | `{t.spark}` | `{t.postgres}` | `{t.redshift}` |")
    return "\n".join(lines) + "\n"
