"""Column lineage: the kinds of each hop inside a model's SQL, the curate contract's hop, and the
trace from a mart column through models to MySQL."""

import pytest

from ingestion.contract.rules import TextRules
from ingestion.lineage.columns import LineageGraph
from ingestion.lineage.contract import TableContract, contract_column, source_lookup
from ingestion.lineage.docs import describe
from ingestion.lineage.sql import ROWS, model_lineage

SCHEMA = {
    "wh": {
        "stg": {
            "orders": {"id": "int", "amount": "numeric", "currency": "text", "placed_at": "ts"},
            "rates": {"currency": "text", "per_gbp": "numeric"},
            "people": {"id": "int", "email": "text"},
        },
        "marts": {"monthly": {"month": "date", "revenue": "numeric"}},
    }
}


def inputs(sql: str) -> dict[str, set[tuple[str, str, tuple[str, ...]]]]:
    lineage = model_lineage(sql, SCHEMA, "postgres")
    return {
        column: {(i.relation[2], i.column, i.kinds) for i in found}
        for column, found in lineage.columns.items()
    }


def test_each_kind_of_hop_is_named():
    sql = """
        with orders as (select * from wh.stg.orders),
        rates as (select * from wh.stg.rates),
        final as (
            select
                orders.id,
                orders.currency as currency_code,
                cast(orders.placed_at as date) as placed_on,
                md5(cast(orders.id as text)) as id_hash,
                orders.amount / rates.per_gbp as amount_gbp,
                'x' as constant
            from orders left join rates on orders.currency = rates.currency
        )
        select * from final
    """
    found = inputs(sql)
    assert found["id"] == {("orders", "id", ("copied",))}
    assert found["currency_code"] == {("orders", "currency", ("renamed",))}
    assert found["placed_on"] == {("orders", "placed_at", ("renamed", "cast"))}
    assert found["id_hash"] == {("orders", "id", ("hashed",))}
    assert found["amount_gbp"] == {
        ("orders", "amount", ("derived",)),
        ("rates", "per_gbp", ("looked up", "derived")),
    }
    assert found["constant"] == set()


def test_an_aggregate_and_a_row_count():
    sql = """
        with orders as (select * from wh.stg.orders)
        select cast(placed_at as date) as day, sum(amount) as revenue, count(*) as orders_placed
        from orders group by 1
    """
    found = inputs(sql)
    assert found["revenue"] == {("orders", "amount", ("aggregated",))}
    assert found["orders_placed"] == {("orders", ROWS, ("aggregated",))}  # the rows counted


def test_sql_the_parser_cannot_read_is_a_clear_error():
    from ingestion.errors import PlatformError

    with pytest.raises(PlatformError, match="column lineage"):
        model_lineage("select from from where", SCHEMA, "postgres")


def column(name: str, column_type: str, raw: str, spark: str) -> dict:
    return {"name": name, "column_type": column_type, "types": {"raw": raw, "spark": spark}}


def contract(**rules) -> TableContract:
    columns = {
        "email": column("email", "varchar(190)", "text", "string"),
        "born": column("born", "date", "date", "date"),
        "seen_at": column("seen_at", "datetime", "datetime", "timestamp_ntz"),
        "ship_to": column("Ship-To", "text", "text", "string"),
    }
    return TableContract(
        "shop", "people", columns, rules.get("text_rules", TextRules()),
        rules.get("zone"), rules.get("zero_dates", "null"),
    )  # fmt: skip


def test_the_curate_contract_says_what_happened_before_staging():
    pii = contract(
        text_rules=TextRules(email_columns=["email"], pii_columns=["email"]), zone="Europe/London"
    )
    email = contract_column(pii, "email")
    assert (email.origin, email.source, email.column) == ("mysql", "shop.people", "email")
    assert email.kinds == ("trimmed", "lowercased", "hashed")
    assert contract_column(pii, "seen_at").kinds == ("moved to UTC", "zero dates made NULL")
    assert contract_column(pii, "born").kinds == ("zero dates made NULL",)
    assert contract_column(contract(zero_dates="reject"), "born").kinds == ("copied",)
    odd = contract_column(pii, "ship_to")
    assert (odd.column, odd.kinds) == ("Ship-To", ("renamed",))  # MySQL's own spelling
    assert contract_column(pii, "_loaded_at").origin == "pipeline"


def node(kind, name, schema, sql=None, **extra):
    return {
        "resource_type": kind,
        "name": name,
        "database": "wh",
        "schema": schema,
        "alias": name,
        "compiled_code": sql,
        "fqn": ["p", *extra.pop("fqn", ["staging"]), name],
        **extra,
    }


def test_a_mart_column_is_traced_to_mysql_through_every_model():
    manifest = {
        "metadata": {"adapter_type": "postgres"},
        "nodes": {
            "model.p.stg_people": node(
                "model",
                "stg_people",
                "stg_models",
                "select id, email as email_hash from wh.stg.people",
            ),
            "model.p.dim_person": node(
                "model",
                "dim_person",
                "marts",
                "select p.id, p.email_hash, now() as built_at from wh.stg_models.stg_people as p",
                fqn=["marts"],
            ),
        },  # fmt: skip
        "sources": {
            "source.p.shop.people": {
                "resource_type": "source",
                "name": "people",
                "source_name": "shop",
                "database": "wh",
                "schema": "stg",
                "identifier": "people",
            }  # fmt: skip
        },
    }
    catalog = {
        "nodes": {
            "model.p.stg_people": {
                "metadata": {"database": "wh", "schema": "stg_models", "name": "stg_people"},
                "columns": {"id": {"type": "int"}, "email_hash": {"type": "text"}},
            }
        },
        "sources": {
            "source.p.shop.people": {
                "metadata": {"database": "wh", "schema": "stg", "name": "people"},
                "columns": {"id": {"type": "int"}, "email": {"type": "text"}},
            }
        },
    }
    pii = contract(text_rules=TextRules(email_columns=["email"], pii_columns=["email"]))
    lookup = source_lookup({("shop", "people"): pii})
    marts = LineageGraph(manifest, catalog, lookup).marts()
    assert set(marts) == {"model.p.dim_person"}
    (email,) = marts["model.p.dim_person"]["email_hash"]
    assert (email["origin"], email["source"], email["column"]) == ("mysql", "shop.people", "email")
    assert email["path"] == [
        "model.p.dim_person.email_hash",
        "model.p.stg_people.email_hash",
        "source.p.shop.people.email",
        "mysql.shop.people.email",
    ]
    assert [h["kinds"] for h in email["transforms"]] == [
        ["copied"],
        ["renamed"],
        ["trimmed", "lowercased", "hashed"],
    ]
    (built,) = marts["model.p.dim_person"]["built_at"]
    assert built["origin"] == "computed"
    text = describe(marts["model.p.dim_person"]["email_hash"])
    assert text == (
        "- `shop.people.email` (MySQL) → `staging shop.people.email` (trimmed, lowercased, "
        "hashed) → `stg_people.email_hash` (renamed) → `dim_person.email_hash` (copied)"
    )
