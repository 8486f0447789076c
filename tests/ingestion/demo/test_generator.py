"""The demo source generator: determinism, planted dirt, and days of change."""

from ingestion.demo.changes import apply_changes
from ingestion.demo.generator import TABLE_ORDER, VIN_TRANSLIT, VIN_WEIGHTS, make_vin, seed_database
from ingestion.source.mysql import connect, quote_ident

SCALE = 0.002


def checksums(settings, database):
    with connect(settings.mysql, database) as conn, conn.cursor() as cur:
        cur.execute("checksum table " + ", ".join(quote_ident(t) for t in TABLE_ORDER))
        return {row[0].split(".")[1]: row[1] for row in cur.fetchall()}


def scalar(settings, database, query):
    with connect(settings.mysql, database) as conn, conn.cursor() as cur:
        cur.execute(query)
        return cur.fetchone()[0]


def test_same_seed_and_scale_give_identical_tables(stack, mysql_db):
    other = mysql_db + "_b"
    try:
        counts = seed_database(stack.mysql, mysql_db, SCALE, 7)
        seed_database(stack.mysql, other, SCALE, 7)
        first, second = checksums(stack, mysql_db), checksums(stack, other)
        assert first == second
        assert all(first[t] for t in TABLE_ORDER)  # not trivially equal: every table has data
        assert counts["sales_orders"] == 2000
        seed_database(stack.mysql, other, SCALE, 8)
        assert checksums(stack, other)["sales_orders"] != first["sales_orders"]
    finally:
        with connect(stack.mysql) as conn, conn.cursor() as cur:
            cur.execute(f"drop database if exists {quote_ident(other)}")


def test_every_kind_of_planted_dirt_is_present(stack, mysql_db):
    seed_database(stack.mysql, mysql_db, SCALE, 42)
    q = lambda sql: scalar(stack, mysql_db, sql)  # noqa: E731
    assert q("select count(*) from sales_orders where delivery_date = '0000-00-00'") > 0
    assert q("select count(*) from customers where birth_date = '0000-00-00'") > 0
    assert q("select count(*) from customers where email <> trim(email)") > 0
    assert q("select count(*) from customers where binary email <> lower(email)") > 0
    assert (
        q(
            "select count(*) from sales_orders o left join dealers d using (dealer_id) "
            "where d.dealer_id is null"
        )
        > 0
    )
    assert (
        q(
            "select count(*) from warranty_claims c left join vehicles v using (vin) "
            "where v.vin is null"
        )
        > 0
    )
    assert q("select count(*) from sales_orders where discount_amount < 0") > 0
    # 4-byte utf8mb4 characters (UTF-8 lead byte F0) survive the load
    assert q("select count(*) from customers where hex(last_name) regexp '^(..)*F0'") > 0
    assert q("select max(payment_reference) > 9223372036854775807 from sales_orders") == 1
    assert q("select count(*) from warranty_claims where repair_time > '24:00:00'") > 0
    assert q("select count(*) from parts where hazard_flags <> 0") > 0
    assert q("select count(*) from customers where marketing_opt_in not in (0, 1)") > 0
    assert q("select count(*) from sales_orders where deleted_at is not null") > 0


def test_generated_vins_carry_a_valid_check_digit(stack, mysql_db):
    seed_database(stack.mysql, mysql_db, SCALE, 42)
    with connect(stack.mysql, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("select vin from vehicles")
        vins = [r[0] for r in cur.fetchall()]
    assert len(vins) == len(set(vins)) == 2100
    for vin in vins:
        total = sum(VIN_TRANSLIT[c] * w for c, w in zip(vin, VIN_WEIGHTS, strict=True))
        assert vin[8] == ("X" if total % 11 == 10 else str(total % 11)), vin
        assert not set(vin) & set("IOQ")
    assert make_vin("SAL", "GA2AW", 2024, "A", 1) == "SALGA2AW8RA000001"


def test_a_day_of_change_inserts_updates_and_deletes(stack, mysql_db):
    seed_database(stack.mysql, mysql_db, SCALE, 42)
    before = scalar(stack, mysql_db, "select max(updated_at) from sales_orders")
    orders_before = scalar(stack, mysql_db, "select count(*) from sales_orders")
    totals = apply_changes(stack.mysql, mysql_db, 2)
    assert totals["orders inserted"] > 0 and totals["orders advanced"] > 0
    assert totals["orders hard-deleted"] > 0 and totals["customers soft-deleted"] > 0
    assert scalar(stack, mysql_db, "select max(updated_at) from sales_orders") > before
    assert scalar(stack, mysql_db, "select count(*) from sales_orders") == (
        orders_before + totals["orders inserted"] - totals["orders hard-deleted"]
    )
    assert scalar(stack, mysql_db, "select days_applied from _demo_clock") == 2
