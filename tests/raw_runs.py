"""Raw manifests' columns as the extract writes them, for tests that build raw runs by hand."""


def manifest_columns(columns) -> list[dict]:
    """(name, column_type, (raw, spark, postgres, redshift)) -> a raw manifest's columns."""
    return [
        {
            "name": name,
            "data_type": column_type.split("(")[0],
            "column_type": column_type,
            "nullable": name != "id",
            "char_max_length": None,
            "numeric_precision": None,
            "numeric_scale": None,
            "datetime_precision": None,
            "charset": None,
            "is_json": False,
            "types": dict(zip(("raw", "spark", "postgres", "redshift"), types, strict=True)),
        }
        for name, column_type, types in columns
    ]
