"""The curate job's DataFrame functions on a real local SparkSession."""

import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from glue_jobs.curation import (
    apply_contract,
    deduplicate,
    mark_soft_deletes,
    raw_schema,
    split_rejects,
    zero_date_counts,
)
from glue_jobs.glue_args import resolve_args
from ingestion.config.source import table_list
from ingestion.errors import ConfigError


def contract(**columns):
    return [
        {
            "name": n,
            "types": {"raw": spec[0], "spark": spec[1], "redshift": (spec[3:] or ("",))[0]},
            "nullable": True,
            "column_type": spec[2],
        }
        for n, spec in columns.items()
    ]


CONTRACT = contract(
    id=("int", "decimal(20,0)", "bigint unsigned"),
    active=("bool", "boolean", "tinyint(1)"),
    price=("text", "decimal(12,2)", "decimal(12,2)"),
    seen=("datetime", "timestamp_ntz", "datetime"),
    took=("time", "string", "time"),
    doc=("json", "string", "json", "super"),
    note=("text", "string", "varchar(5)", "varchar(20)"),
)


def frame(spark, tmp_path, records):
    path = tmp_path / "raw.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records))
    return (
        spark.read.schema(raw_schema(CONTRACT))
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", "_corrupt_record")
        .json(str(path))
        .withColumn("_source_file", F.input_file_name())
        .withColumn("_is_deleted", F.lit(False))
    )


def test_good_rows_are_typed_exactly(spark, tmp_path):
    df = frame(
        spark,
        tmp_path,
        [
            {
                "id": 18446744073709551615,
                "active": 1,
                "price": "12.50",
                "seen": "2024-02-29T23:59:59.123456",
                "took": "-838:59:59",
            }
        ],
    )
    good, bad = split_rejects(apply_contract(df, CONTRACT, ["id"]))
    assert bad.count() == 0
    row = good.collect()[0]
    assert row["id"] == Decimal("18446744073709551615")
    assert row["active"] is True and row["price"] == Decimal("12.50")
    assert row["seen"] == datetime(2024, 2, 29, 23, 59, 59, 123456)
    assert row["took"] == "-838:59:59"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"id": 1, "active": 5}, "active: value 5 is not a valid boolean (tinyint(1))"),
        ({"id": 2, "price": "12.x"}, "price: value 12.x is not a valid decimal(12,2)"),
        ({"id": 3, "price": "12345678901.00"}, "price: value 12345678901.00 is not a valid"),
        (
            {"id": 4, "seen": "2024-02-30T00:00:00"},
            "seen: value 2024-02-30T00:00:00 is not a valid",
        ),
        ({"id": 5, "took": "12 hours"}, "took: value 12 hours is not a valid string (time)"),
        ({"active": 1}, "id: primary key is null"),
        ({"id": 8, "doc": '{"a": 1} and more'}, 'doc: value {"a": 1} and more is not valid JSON'),
        ({"id": 9, "doc": "{'a': 1}"}, "doc: value {'a': 1} is not valid JSON (json)"),
        (
            {"id": 10, "note": "é" * 11},
            "note: value of 22 bytes is longer than the warehouse's limit of 20 bytes",
        ),
        ('{"id": 7, "active": "yes"', "malformed raw record"),
    ],
)
def test_bad_rows_are_rejected_with_a_reason(spark, tmp_path, record, reason):
    df = frame(spark, tmp_path, [record, {"id": 100, "active": 0}])
    good, bad = split_rejects(apply_contract(df, CONTRACT, ["id"]))
    assert [r["id"] for r in good.collect()] == [Decimal(100)]
    (rejected,) = bad.collect()
    assert reason in rejected["_reject_reason"]


def test_latest_cursor_wins_and_ties_break_deterministically(spark, tmp_path):
    records = [
        {"id": 1, "price": "1.00", "seen": "2024-01-01T00:00:00"},
        {"id": 1, "price": "3.00", "seen": "2024-03-01T00:00:00"},
        {"id": 1, "price": "2.00", "seen": "2024-02-01T00:00:00"},
        {"id": 2, "price": "5.00", "seen": "2024-01-01T00:00:00"},
        {"id": 2, "price": "6.00", "seen": "2024-01-01T00:00:00"},
    ]
    good, _ = split_rejects(apply_contract(frame(spark, tmp_path, records), CONTRACT, ["id"]))
    names = [c["name"] for c in CONTRACT]
    first = {r["id"]: r["price"] for r in deduplicate(good, ["id"], "seen", names).collect()}
    again = {
        r["id"]: r["price"]
        for r in deduplicate(good.orderBy(F.rand()), ["id"], "seen", names).collect()
    }
    assert first[Decimal(1)] == Decimal("3.00")
    assert first == again and len(first) == 2


def test_glue_style_arguments():
    args = resolve_args(
        [
            "job.py",
            "--JOB_NAME",
            "j",
            "--LAKE_URI=file:///x",
            "--job-bookmark-option",
            "job-bookmark-disable",
            "--SOURCE",
            "s",
        ],
        ["JOB_NAME", "LAKE_URI", "SOURCE"],
        {"TABLES": ""},
    )
    assert args == {"JOB_NAME": "j", "LAKE_URI": "file:///x", "SOURCE": "s", "TABLES": ""}
    with pytest.raises(ConfigError, match="missing job arguments: --SOURCE"):
        resolve_args(
            ["job.py", "--JOB_NAME", "j", "--LAKE_URI", "x"], ["JOB_NAME", "LAKE_URI", "SOURCE"]
        )
    # --TABLES: a JSON array (Step Functions, any name) or a comma list (by hand)
    assert table_list('["a,b", "Order"]') == ["a,b", "Order"]
    assert table_list("a,b,") == ["a", "b"] and table_list("") == []
    with pytest.raises(ConfigError, match="not a JSON array of table names"):
        table_list("[1, 2]")


def test_soft_deleted_rows_are_marked_and_a_tombstone_wins_over_an_update(spark, tmp_path):
    records = [
        {"id": 1, "seen": "2024-01-01T00:00:00"},
        {"id": 2, "seen": "2024-01-01T00:00:00", "took": "00:00:01"},
    ]
    checked = apply_contract(frame(spark, tmp_path, records), CONTRACT, ["id"])
    soft = {r["id"]: r["_is_deleted"] for r in mark_soft_deletes(checked, "took").collect()}
    assert soft == {Decimal(1): False, Decimal(2): True}
    tombstone = checked.where(F.col("id") == 1).withColumn("_is_deleted", F.lit(True))
    tombstone = tombstone.withColumn("seen", F.lit(None).cast("timestamp_ntz"))
    both, _ = split_rejects(checked.unionByName(tombstone))
    names = [c["name"] for c in CONTRACT]
    winners = {
        r["id"]: r["_is_deleted"] for r in deduplicate(both, ["id"], "seen", names).collect()
    }
    assert winners == {Decimal(1): True, Decimal(2): False}


TEXT = contract(
    id=("int", "bigint", "int"),
    name=("text", "string", "varchar(20)"),
    email=("text", "string", "varchar(190)"),
    doc=("json", "string", "json"),
    seen=("datetime", "timestamp_ntz", "datetime"),
)


def test_text_is_trimmed_emails_lowercased_pii_hashed_and_datetimes_made_utc(spark):
    import hashlib

    from glue_jobs.curation import curated_types, datetimes_to_utc, normalise
    from ingestion.contract.rules import TextRules

    df = spark.createDataFrame(
        [
            (1, "  Zoë  ", "  Zoe.Smith@Example.COM ", ' {"a": 1} ', datetime(2024, 7, 1, 12)),
            (2, None, "   ", None, datetime(2024, 1, 1, 12)),
        ],
        "id long, name string, email string, doc string, seen timestamp_ntz",
    )
    df = normalise(df, TEXT, TextRules(trim_strings=True, email_columns=["email"]))
    rows = {r["id"]: r for r in df.collect()}
    assert rows[1]["name"] == "Zoë" and rows[1]["email"] == "zoe.smith@example.com"
    assert rows[1]["doc"] == ' {"a": 1} '  # JSON text is left exactly as it came
    assert rows[2]["email"] is None  # blank after trimming
    hashing = TextRules(pii_columns=["email"])
    hashed = {r["id"]: r["email"] for r in normalise(df, TEXT, hashing, "pepper").collect()}
    assert hashed[1] == hashlib.sha256(b"pepperzoe.smith@example.com").hexdigest()
    assert hashed[2] is None
    utc = {r["id"]: r["seen"] for r in datetimes_to_utc(df, TEXT, "Europe/London").collect()}
    assert utc[1] == datetime(2024, 7, 1, 11)  # BST: UTC+1 (the session zone is UTC)
    assert utc[2] == datetime(2024, 1, 1, 12)  # GMT
    types = {c["name"]: c["types"] for c in curated_types(TEXT, ["email"], "Europe/London")}
    assert types["email"]["postgres"] == "varchar(64)"
    assert types["seen"]["postgres"] == "timestamptz" and types["seen"]["spark"] == "timestamp"


def test_partition_values_derive_from_a_date_column(spark):
    from glue_jobs.curation import with_partition

    df = spark.createDataFrame([(1, date(2024, 2, 29)), (2, None)], "id long, d date")
    rows = {r["id"]: r["d_month"] for r in with_partition(df, "d", "month").collect()}
    assert rows == {1: "2024-02", 2: "none"}
    days = with_partition(df, "d", "day").where("id = 1").collect()[0]["d_day"]
    assert days == "2024-02-29"
    assert with_partition(df, None, "month").columns == ["id", "d"]


def test_the_curate_job_and_reconcile_apply_the_same_normalising_rules(spark):
    """Spark (the curate job) and Python (reconcile) implement each rule; on the same values,
    in every combination a table can ask for, they must agree."""
    from glue_jobs.curation import normalise
    from ingestion.contract import rules

    values = [
        "  Zoë  ",
        "  Zoe.Smith@Example.COM ",
        "ÉMILE.DUPONT@EXEMPLE.FR",
        "   ",
        "",
        "\tTabbed\t",
        " line\nbreak ",
        "日本語 ",
        None,
    ]
    cases = {
        "trimmed": rules.TextRules(trim_strings=True),
        "email": rules.TextRules(email_columns=["v"]),
        "hashed": rules.TextRules(pii_columns=["v"]),
        "trimmed_hashed": rules.TextRules(trim_strings=True, pii_columns=["v"]),
        "email_hashed": rules.TextRules(email_columns=["v"], pii_columns=["v"]),
        "untouched": rules.TextRules(),
    }
    column = contract(v=("text", "string", "varchar(80)"))
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i long, v string")
    for name, text_rules in cases.items():
        spark_side = {r["i"]: r["v"] for r in normalise(df, column, text_rules, "pepper").collect()}
        steps = rules.column_rules("v", column[0]["types"], text_rules)
        python_side = {i: rules.apply_python(steps, v, "pepper") for i, v in enumerate(values)}
        assert spark_side == python_side, name


@pytest.mark.parametrize("policy", ["null", "reject"])
def test_zero_in_date_values_become_null_and_are_counted_or_reject_the_row(spark, policy):
    zero = contract(day=("date", "date", "date"), seen=("datetime", "timestamp_ntz", "datetime"))
    raw = [
        ("2019-00-00", "0000-00-00 14:02:10"),
        ("2019-05-00", "2024-01-02 03:04:05"),
        ("2024-02-03", None),
        ("2024-13-01", None),  # not a zero: a month that cannot be, rejected either way
    ]
    df = spark.createDataFrame(raw, "day string, seen string").withColumn(
        "_corrupt_record", F.lit(None).cast("string")
    )
    checked = apply_contract(df, zero, [], policy)
    counts = zero_date_counts(zero, policy)
    totals = df.agg(*[agg for _, agg in counts]).first() if counts else None
    good, bad = split_rejects(checked)
    kept = sorted((str(r.day), str(r.seen)) for r in good.collect())
    if policy == "null":
        assert dict(zip([n for n, _ in counts], totals, strict=True)) == {"day": 2, "seen": 1}
        assert kept == [("2024-02-03", "None"), ("None", "2024-01-02 03:04:05"), ("None", "None")]
        assert bad.count() == 1
    else:
        assert counts == [] and kept == [("2024-02-03", "None")]
        reasons = sorted(r._reject_reason for r in bad.collect())
        assert reasons[0].startswith("day: value 2019-00-00 is not a valid date")
