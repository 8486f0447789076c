import pytest

from ingestion.contract.names import MAX_BYTES, RESERVED_COLUMNS, collisions, warehouse_name


@pytest.mark.parametrize(
    ("mysql", "warehouse"),
    [
        ("sales_orders", "sales_orders"),  # the common case: unchanged
        ("Order", "order"),
        ("Order Lines", "order_lines"),
        ("ship-to", "ship_to"),
        ("unit price ($)", "unit_price____"),
        ("Größe", "grosse"),
        ("café", "cafe"),
        ("订单", "__"),
        ("special\"[`]$'", "special______"),
        ("a.b/c%d", "a_b_c_d"),
        ("select", "select"),
        ("2019", "2019"),
    ],
)
def test_the_warehouse_name_rule(mysql, warehouse):
    assert warehouse_name(mysql) == warehouse
    assert warehouse_name(warehouse) == warehouse  # idempotent: a lake name maps to itself


def test_warehouse_names_fit_postgresql_and_redshift():
    longest = warehouse_name("ß" * 64)  # folds to 128 characters
    assert len(longest.encode()) == MAX_BYTES == 63


def test_collisions_name_both_sides():
    assert collisions(["Order", "order", "lines"]) == [
        "'Order' and 'order' are both 'order' in the warehouse"
    ]
    assert collisions(["id", "_Batch_ID"], RESERVED_COLUMNS) == [
        "'_Batch_ID' would be '_batch_id', a column the pipeline adds"
    ]
    assert collisions(["id", "name", "Größe"], RESERVED_COLUMNS) == []
