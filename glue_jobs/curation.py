"""Pure PySpark functions of the curate job: raw JSON records -> typed, deduplicated rows.

Each function takes and returns DataFrames (plus plain contract dicts), so tests exercise them
directly on a local SparkSession. The column contract is the catalog's per-column dict:
``{"name", "types": {"raw", "spark", ...}, "nullable", "column_type"}``.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Observation, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ingestion.contract import rules
from ingestion.contract.typemap import GEOMETRY_HEX_LIMIT

CORRUPT = "_corrupt_record"
ERRORS = "_errors"
RAW = "_raw"  # the row's values as read, kept so a rejected row is quarantined as it came
TIME_PATTERN = r"^-?[0-9]{1,3}:[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?$"
STRICT_JSON = {
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": "_bad",
    "allowSingleQuotes": "false",
    "allowNonNumericNumbers": "false",
    "allowNumericLeadingZeros": "false",
}


def _expected(types: dict[str, str]) -> str:
    if types["raw"] == "json":
        return "valid JSON"
    if types["raw"] == "ewkb":
        return "hex EWKB"
    return f"a valid {types['spark']}"


def byte_limit(types: dict[str, str]) -> int | None:
    """The most bytes a text value may have: its Redshift VARCHAR's length. The same curated
    data feeds either warehouse, so a value Redshift cannot hold is rejected for both."""
    redshift = types.get("redshift", "")
    if types["spark"] == "string" and redshift.startswith("varchar("):
        return int(redshift[len("varchar(") : -1])
    if types["raw"] == "ewkb":
        return GEOMETRY_HEX_LIMIT
    return None


def raw_read_type(types: dict[str, str]) -> T.DataType:
    """The Spark type a raw JSON value is read as (before casting to the curated type)."""
    raw, spark = types["raw"], types["spark"]
    if raw in ("int", "bits"):
        return T.DecimalType(20, 0) if spark == "decimal(20,0)" else T.LongType()
    if raw == "bool":
        return T.LongType()
    if raw == "float":
        return T.DoubleType()
    return T.StringType()


def _raw_key(col: dict) -> str:
    """A column's key in the raw JSON: its MySQL name."""
    return col.get("source_name", col["name"])


def raw_schema(contract: list[dict]) -> T.StructType:
    """The raw JSON records' schema: each field under its raw key, the MySQL name (any text;
    ``read_raw_json`` renames them to their warehouse names as soon as they are read)."""
    fields = [T.StructField(_raw_key(c), raw_read_type(c["types"]), True) for c in contract]
    return T.StructType([*fields, T.StructField(CORRUPT, T.StringType(), True)])


def with_warehouse_names(df: DataFrame, contract: list[dict]) -> DataFrame:
    """Raw records read with ``raw_schema``, their columns renamed (by position, so Spark never
    parses a MySQL name holding dots, backticks or spaces) to their warehouse names."""
    names = [c["name"] for c in contract]
    return df.toDF(*names, *df.columns[len(names) :])


def zero_in_date(raw_col: Column) -> Column:
    """A DATE/DATETIME text with a zero year, month or day (``2019-00-00``,
    ``0000-00-00 14:02:10``), which the server accepts unless NO_ZERO_IN_DATE. The pattern runs
    only on texts that start with ``0000`` or hold ``-00`` (every date of a batch is checked,
    and the regular expression is the costly part)."""
    candidate = raw_col.startswith("0000") | raw_col.contains("-00")  # no copy of the text
    return candidate & raw_col.rlike(rules.ZERO_IN_DATE)


def _typed(raw_col: Column, types: dict[str, str]) -> Column:
    """The curated value of one raw value (null where it does not fit; ``_failed`` tells)."""
    raw, spark = types["raw"], types["spark"]
    if raw in ("date", "datetime"):
        # a zero month or day never casts; a zero year can ('0000-01-01'), so only a value that
        # did cast is checked for zeros
        value = raw_col.cast(spark)
        return F.when(value.isNotNull() & zero_in_date(raw_col), None).otherwise(value)
    if raw == "bool":
        return F.when(raw_col.isin(0, 1), raw_col == 1)
    if raw == "bits" and spark == "boolean":
        return raw_col != 0
    if raw == "base64":
        return F.unbase64(raw_col)
    if raw in ("ewkb", "time", "json") or spark == "string":
        return raw_col
    return raw_col.cast(spark)


def _failed(raw_col: Column, value: Column, types: dict[str, str], zero_dates: str) -> Column:
    """Whether a raw value fails its type, given the curated value ``_typed`` made of it."""
    raw, spark = types["raw"], types["spark"]
    present = raw_col.isNotNull()
    if raw in ("date", "datetime"):
        if zero_dates == "reject":
            return present & value.isNull()
        return present & value.isNull() & ~zero_in_date(raw_col)  # null: counted apart
    if raw == "ewkb":  # hex EWKB; its size is checked against the byte limit
        return present & ~raw_col.rlike(r"^([0-9A-F]{2})+$")
    if raw == "bool":
        return present & ~raw_col.isin(0, 1)
    if raw == "bits" and spark == "boolean":
        return F.lit(False)
    if raw == "time":
        return present & ~raw_col.rlike(TIME_PATTERN)
    if raw == "json":
        # strictly valid JSON or a reject (lenient parsers let trailing text, single quotes and
        # NaN through, which the warehouse's JSONB/SUPER then refuses for the whole batch)
        wrapped = F.concat(F.lit('{"v":'), raw_col, F.lit("}"))
        parsed = F.from_json(wrapped, "v string, _bad string", STRICT_JSON)
        return present & parsed["_bad"].isNotNull()
    if raw == "base64":
        return present & ~raw_col.rlike(r"^[A-Za-z0-9+/]*={0,2}$")
    if spark == "string":
        return F.lit(False)
    return present & value.isNull()


def apply_contract(
    df: DataFrame, contract: list[dict], primary_key: list[str], zero_dates: str = "null"
) -> DataFrame:
    """Cast every column to its curated type and collect, per row, what failed and why.

    Adds ``_errors`` (array of reasons; empty for a good row). A row fails when its raw record is
    malformed, a value does not fit its type, or a primary-key column is null. A zero date or
    zero-in-date value becomes null (``zero_dates: null``, counted by ``zero_date_counts``) or
    fails its row (``reject``).

    Two projections: the first casts each value once, the second judges each row from the raw
    and the cast values (the optimizer keeps them apart, as merging them would cast twice).
    """
    names = [c["name"] for c in contract]
    passthrough = [c for c in df.columns if c not in names]
    raw_of = {n: f"__raw{i}" for i, n in enumerate(names)}
    cast = df.select(
        *[F.col(n).alias(raw_of[n]) for n in names],
        *[_typed(F.col(c["name"]), c["types"]).alias(c["name"]) for c in contract],
        *passthrough,
    )
    checks: list[tuple[Column, Column]] = []  # (failed, reason)
    for col in contract:
        name, types = col["name"], col["types"]
        raw_col = F.col(raw_of[name])
        reason = F.concat(
            F.lit(f"{name}: value "),
            F.substring(raw_col.cast("string"), 1, 80),
            F.lit(f" is not {_expected(types)} ({col['column_type']})"),
        )
        checks.append((_failed(raw_col, F.col(name), types, zero_dates), reason))
        limit = byte_limit(types)
        if limit is not None:
            size = F.octet_length(raw_col)
            reason = F.concat(
                F.lit(f"{name}: value of "),
                size.cast("string"),
                F.lit(f" bytes is longer than the warehouse's limit of {limit} bytes"),
            )
            checks.append((size > limit, reason))
    for name in primary_key:
        checks.append((F.col(name).isNull(), F.lit(f"{name}: primary key is null")))
    checks.append((F.col(CORRUPT).isNotNull(), F.lit("malformed raw record")))
    # the raw values under their raw keys (the MySQL names): a rejected row is quarantined as
    # the extract wrote it
    raw = [F.col(raw_of[c["name"]]).alias(_raw_key(c)) for c in contract]
    # A good row only evaluates whether anything failed; the reasons are put together for the
    # failed rows alone (most batches have none, and an array per row is costly)
    failed = F.lit(False)
    for condition, _ in checks:
        failed = failed | condition
    reasons = F.filter(
        F.array(*[F.when(condition, reason) for condition, reason in checks]),
        lambda x: x.isNotNull(),
    )
    return cast.select(
        *names,
        *passthrough,
        F.struct(*raw).alias(RAW),
        F.when(failed, reasons).otherwise(F.array().cast("array<string>")).alias(ERRORS),
    )


def zero_date_counts(contract: list[dict], zero_dates: str) -> list[tuple[str, Column]]:
    """(column, aggregate counting its zero dates nulled by the curate job) for each date-like
    column, over the raw records (``with_warehouse_names``' output, before ``apply_contract``)."""
    if zero_dates != "null":
        return []
    return [
        (col["name"], F.count(F.when(zero_in_date(F.col(col["name"])), 1)))
        for col in contract
        if col["types"]["raw"] in ("date", "datetime")
    ]


def split_rejects(df: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(good rows without ``_errors``, rejected rows with ``_reject_reason``)."""
    good = df.where(F.size(ERRORS) == 0).drop(ERRORS, RAW)
    bad = df.where(F.size(ERRORS) > 0).withColumn("_reject_reason", F.array_join(ERRORS, "; "))
    return good, bad.drop(ERRORS)


def _spark_rule(step: str, value: Column, salt: str) -> Column:
    """One normalising rule (``ingestion.contract.rules``) as a Spark expression."""
    if step == rules.TRIM:
        return F.trim(value)
    if step == rules.EMAIL:
        return F.nullif(F.lower(F.trim(value)), F.lit(""))
    if step == rules.HASH:
        text = value.cast("string")
        return F.when(text.isNotNull(), F.sha2(F.concat(F.lit(salt), text), 256))
    raise ValueError(f"unknown normalising rule {step!r}")


def normalise(
    df: DataFrame, contract: list[dict], text_rules: rules.TextRules, salt: str = ""
) -> DataFrame:
    """Apply each column's normalising rules (trim, email, hash) in one projection."""
    changed = {}
    for col in contract:
        value = F.col(col["name"])
        steps = rules.column_rules(col["name"], col["types"], text_rules)
        for step in steps:
            value = _spark_rule(step, value, salt)
        if steps:
            changed[col["name"]] = value.alias(col["name"])
    if not changed:
        return df
    return df.select(*[changed.get(name, F.col(name)) for name in df.columns])


def datetimes_to_utc(df: DataFrame, contract: list[dict], time_zone: str | None) -> DataFrame:
    """DATETIME values written in the source's zone become UTC instants."""
    for col in contract:
        if rules.to_utc(col["types"], time_zone):
            name = col["name"]
            df = df.withColumn(name, F.to_utc_timestamp(F.col(name).cast("timestamp"), time_zone))
    return df


def curated_types(
    contract: list[dict], pii_columns: list[str], time_zone: str | None
) -> list[dict]:
    """The contract after the transforms: hashes are 64-character text, DATETIMEs converted to
    UTC are timestamps with a time zone."""
    out = []
    for col in contract:
        types = dict(col["types"])
        if col["name"] in pii_columns:
            types.update(spark="string", postgres="varchar(64)", redshift="varchar(64)")
        elif rules.to_utc(types, time_zone):
            types.update(spark="timestamp", postgres="timestamptz", redshift="timestamptz")
        out.append({**col, "types": types})
    return out


PARTITION_FORMATS = {"year": "yyyy", "month": "yyyy-MM", "day": "yyyy-MM-dd"}


def partition_name(column: str, granularity: str) -> str:
    """The partition directory key, e.g. ``order_date_month`` (a name Spark does not hide)."""
    return f"{column}_{granularity}"


def with_partition(df: DataFrame, column: str | None, granularity: str) -> DataFrame:
    """Add the partition value derived from a date-like column (rows without one: 'none').
    The column itself stays in the data files, so loaders never need the directory name."""
    if not column:
        return df
    value = F.date_format(F.col(column), PARTITION_FORMATS[granularity])
    return df.withColumn(partition_name(column, granularity), F.coalesce(value, F.lit("none")))


def mark_soft_deletes(df: DataFrame, column: str | None) -> DataFrame:
    """Rows whose soft-delete column is set (not null, not 0/false) count as deletions."""
    if not column:
        return df
    flagged = F.col(column).isNotNull() & ~F.col(column).cast("string").isin("0", "false")
    return df.withColumn("_is_deleted", F.col("_is_deleted") | flagged)


def deduplicate(
    df: DataFrame,
    primary_key: list[str],
    cursor: str | None,
    business_columns: list[str],
    observation: Observation | None = None,
) -> DataFrame:
    """One row per primary key: a deletion wins (it was seen last, at the end of its run);
    then the latest cursor value; ties break deterministically on the later source file, then
    on a hash of the row's content. With an observation, the rows the dedupe itself removes are
    counted (``duplicates``) on the same pass, by the same window that ranks them."""
    order = [F.col("_is_deleted").desc()]
    if cursor:
        order.append(F.col(cursor).desc_nulls_last())
    order += [F.col("_source_file").desc(), F.xxhash64(*business_columns).desc()]
    window = Window.partitionBy(*primary_key).orderBy(*order)
    ranked = df.withColumn("_rank", F.row_number().over(window))
    if observation is not None:
        ranked = ranked.observe(
            observation, F.count(F.when(F.col("_rank") > 1, 1)).alias("duplicates")
        )
    return ranked.where(F.col("_rank") == 1).drop("_rank")


def with_lineage(df: DataFrame, batch_id: str, extracted_at: str) -> DataFrame:
    return df.withColumn("_batch_id", F.lit(batch_id)).withColumn(
        "_extracted_at", F.to_timestamp(F.lit(extracted_at))
    )


def reject_records(bad: DataFrame, batch_id: str) -> DataFrame:
    """Rejected rows as the raw record (JSON) with the reason, for the rejects zone."""
    return bad.select(
        F.lit(batch_id).alias("batch_id"),
        F.col("_source_file").alias("source_file"),
        F.col("_reject_reason").alias("reason"),
        F.coalesce(F.col(CORRUPT), F.to_json(RAW)).alias("record"),
    )
