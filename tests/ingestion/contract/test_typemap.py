import pytest

from ingestion.contract.typemap import map_column
from ingestion.errors import CatalogError


def col(data_type, column_type=None, **kw):
    base = {
        "name": "c",
        "data_type": data_type,
        "column_type": column_type or data_type,
        "char_max_length": None,
        "numeric_precision": None,
        "numeric_scale": None,
        "charset": None,
    }
    return map_column({**base, **kw})


@pytest.mark.parametrize(
    ("data_type", "column_type", "spark_type", "pg_type"),
    [
        ("tinyint", "tinyint(1)", "boolean", "boolean"),
        ("tinyint", "tinyint(4)", "smallint", "smallint"),
        ("tinyint", "tinyint(3) unsigned", "smallint", "smallint"),
        ("smallint", "smallint(5) unsigned", "int", "integer"),
        ("mediumint", "mediumint(8) unsigned", "int", "integer"),
        ("int", "int(11)", "int", "integer"),
        ("int", "int(10) unsigned", "bigint", "bigint"),
        ("bigint", "bigint(20)", "bigint", "bigint"),
        ("bigint", "bigint(20) unsigned", "decimal(20,0)", "numeric(20,0)"),
        ("year", "year(4)", "smallint", "smallint"),
        ("datetime", "datetime(6)", "timestamp_ntz", "timestamp"),
        ("timestamp", "timestamp", "timestamp", "timestamptz"),
        ("double", "double", "double", "double precision"),
        ("float", "float", "float", "real"),
    ],
)
def test_integer_and_temporal_types(data_type, column_type, spark_type, pg_type):
    mapped = col(data_type, column_type)
    assert (mapped.spark, mapped.postgres) == (spark_type, pg_type)


def test_decimal_keeps_precision_and_scale_everywhere():
    mapped = col("decimal", "decimal(12,2)", numeric_precision=12, numeric_scale=2)
    assert (mapped.raw, mapped.spark, mapped.postgres, mapped.redshift) == (
        "text",
        "decimal(12,2)",
        "numeric(12,2)",
        "decimal(12,2)",
    )


def test_decimal_beyond_38_digits_travels_as_exact_text():
    mapped = col("decimal", "decimal(65,30)", numeric_precision=65, numeric_scale=30)
    assert (mapped.spark, mapped.postgres, mapped.redshift) == ("string", "text", "varchar(67)")


def test_redshift_varchar_counts_bytes_of_the_charset():
    assert (
        col("varchar", "varchar(40)", char_max_length=40, charset="utf8mb4").redshift
        == "varchar(160)"
    )
    assert (
        col("varchar", "varchar(40)", char_max_length=40, charset="latin1").redshift
        == "varchar(40)"
    )
    assert (
        col("varchar", "varchar(40)", char_max_length=40, charset="utf8mb4").postgres
        == "varchar(40)"
    )
    assert (
        col("varchar", "varchar(20000)", char_max_length=20000, charset="utf8mb4").redshift
        == "varchar(65535)"
    )
    assert col("text").redshift == "varchar(65535)"


def test_json_on_mariadb_is_longtext_with_a_check():
    mapped = col("longtext", is_json=True)
    assert (mapped.raw, mapped.postgres, mapped.redshift) == ("json", "jsonb", "super")
    assert col("longtext").postgres == "text"


def test_bit_binary_time_enum():
    assert col("bit", "bit(1)", numeric_precision=1).spark == "boolean"
    assert col("bit", "bit(4)", numeric_precision=4).postgres == "bigint"
    assert col("bit", "bit(64)", numeric_precision=64).postgres == "numeric(20,0)"
    assert col("varbinary", "varbinary(16)", char_max_length=16).redshift == "varbyte(16)"
    assert col("blob").postgres == "bytea"
    assert col("time").raw == "time"
    assert (
        col("enum", "enum('a','bb')", char_max_length=2, charset="utf8mb4").postgres == "varchar(2)"
    )


def test_unsupported_type_is_a_clear_error():
    with pytest.raises(CatalogError, match="'vector' is not supported"):  # MariaDB 11.7's
        col("vector")


def test_spatial_network_types_and_overrides():
    assert col("point").as_dict() == {
        "raw": "ewkb",
        "spark": "string",
        "postgres": "geometry",
        "redshift": "geometry",
    }
    assert col("geomcollection").redshift == "geometry"
    assert (col("inet4").redshift, col("inet6").redshift, col("uuid").postgres) == (
        "varchar(15)",
        "varchar(45)",
        "varchar(36)",
    )
    assert col("tinyint", "tinyint(1)").raw == "bool"
    assert col("tinyint", "tinyint(1)", override="integer").spark == "smallint"
    assert col("int", "int(11)", override="boolean").raw == "bool"
    assert col("bit", "bit(1)", numeric_precision=1, override="integer").spark == "bigint"
    with pytest.raises(CatalogError, match="cannot be read as 'integer'"):
        col("varchar", "varchar(5)", char_max_length=5, override="integer")


def test_the_readme_shows_the_type_map_as_it_is():
    from pathlib import Path

    from ingestion.contract.typemap import markdown_table

    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "README's type table is stale: paste markdown_table()"
