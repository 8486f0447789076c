"""``make changes DAYS=n``: days of realistic change in the demo source, for incremental runs.

Each simulated day inserts new customers, vehicles, orders and warranty claims, advances open
orders and claims through their statuses, edits customers and dealers, soft-deletes a few rows
and hard-deletes a few cancelled orders and rejected claims. Changed rows get ``updated_at`` =
the server's current UTC time, as a real application would stamp them. Which rows change is
deterministic for a given SEED and day number.

Three things a real source also does, which only change capture from the binlog (``mode: cdc``)
sees exactly:

* back-office fixes that do not touch ``updated_at`` (payment references filled in by the
  payments system, a labour-rate correction run as a manual UPDATE);
* a transaction that rolls back (it never happened: nothing may arrive from it);
* every third day, one large transaction: a plant registers its unsold production in bulk
  (``BULK_VEHICLES`` rows at SCALE=0.01 and above, fewer on smaller demos).
"""

from __future__ import annotations

from datetime import UTC, datetime

from ingestion.config.settings import Endpoint
from ingestion.demo import reference as ref
from ingestion.demo.generator import (
    Sizes,
    World,
    _claim_row,
    _customer_row,
    _money,
    _order_row,
    _rng,
    _vehicle,
    gen_model_trims,
)
from ingestion.errors import SourceError
from ingestion.source.mysql import connect, quote_ident


def _insert(cur, table: str, rows: list[tuple]) -> int:
    if rows:
        marks = ", ".join(["%s"] * len(rows[0]))
        cur.executemany(f"insert into {quote_ident(table)} values ({marks})", rows)
    return len(rows)


BULK_VEHICLES = 50_000
BULK_EVERY_DAYS = 3


def bulk_vehicle_rows(scale: float) -> int:
    """Rows of the every-third-day bulk transaction: 50,000 from SCALE=0.01 up, in proportion
    below (the test demos are smaller)."""
    return min(BULK_VEHICLES, max(1_000, round(BULK_VEHICLES * scale / 0.01)))


def _pick(day: int, key: str) -> str:
    """A deterministic pseudo-random order for 'which rows change today'."""
    return f"crc32(concat({quote_ident(key)}, ':{int(day)}'))"


def apply_day(cur, seed: int, scale: float, day: int, clock: dict) -> dict[str, int]:
    sizes = Sizes.for_scale(scale)
    rng = _rng(seed, f"changes:{day}")
    now = datetime.now(UTC).replace(tzinfo=None)
    world = World(seed=seed, sizes=sizes, serials={}, serial_base=clock["next_vin_serial"])
    list(gen_model_trims(world))
    cur.execute("select dealer_id, country_code from dealers order by dealer_id")
    world.dealers = [tuple(r) for r in cur.fetchall()]
    world.sold = []
    done: dict[str, int] = {}

    n_customers = max(3, round(sizes.customers * 0.001))
    countries = list(ref.COUNTRIES)
    new_customers = [
        _customer_row(
            rng,
            clock["next_customer_id"] + i,
            rng.choices(countries, [ref.COUNTRIES[c][2] for c in countries])[0],
            now,
            now,
        )
        for i in range(n_customers)
    ]
    done["customers inserted"] = _insert(cur, "customers", new_customers)

    n_orders = max(5, round(sizes.orders * 0.002))
    price = {t[0]: t[2] for t in world.trims}
    vehicles, orders = [], []
    for i in range(n_orders):
        vehicle = _vehicle(rng, world, now.date())
        vehicles.append((*vehicle, now))
        dealer_id, country = rng.choice(world.dealers)
        currency, rate = ref.COUNTRIES[country][0], ref.COUNTRIES[country][1]
        customer = rng.randint(1, clock["next_customer_id"] + n_customers - 1)
        row = _order_row(
            rng,
            world,
            clock["next_order_id"] + i,
            dealer_id,
            customer,
            vehicle[0],
            now,
            _money(float(price[vehicle[1]]) * rate),
            currency,
            now,
        )
        orders.append(row[:5] + (None,) + row[6:10] + ("ordered",) + row[11:15] + (now, None))
    done["vehicles inserted"] = _insert(cur, "vehicles", vehicles)
    done["orders inserted"] = _insert(cur, "sales_orders", orders)

    limit = max(3, round(sizes.orders * 0.005))
    cur.execute(
        "update sales_orders set "
        "delivery_date = if(status = 'in_transit', utc_date(), delivery_date), "
        "status = case status when 'ordered' then 'allocated' when 'allocated' then "
        "'in_transit' else 'delivered' end, updated_at = utc_timestamp(6) "
        "where status in ('ordered', 'allocated', 'in_transit') and deleted_at is null "
        f"order by {_pick(day, 'order_id')} limit {int(limit)}"
    )
    done["orders advanced"] = cur.rowcount
    cur.execute(
        "update customers set email = concat('Updated.', customer_id, '@Example.com '), "
        f"updated_at = utc_timestamp(6) where deleted_at is null "
        f"order by {_pick(day, 'customer_id')} limit {max(2, round(sizes.customers * 0.001))}"
    )
    done["customers updated"] = cur.rowcount
    cur.execute(
        "update dealers set customer_rating = round(1 + rand(%s) * 4, 1), "
        f"updated_at = utc_timestamp() order by {_pick(day, 'dealer_id')} limit 2",
        (seed * 1000 + day,),
    )
    done["dealers updated"] = cur.rowcount
    cur.execute(
        "update warranty_claims set status = case status when 'submitted' then 'approved' "
        "else 'paid' end, updated_at = utc_timestamp() where status in ('submitted', 'approved') "
        f"order by {_pick(day, 'claim_id')} limit {max(2, round(sizes.claims * 0.01))}"
    )
    done["claims advanced"] = cur.rowcount

    # back-office fixes that leave updated_at as it was: only the binlog sees them
    cur.execute(
        "update sales_orders set payment_reference = 9000000000 + order_id "
        "where status = 'delivered' and payment_reference is null and deleted_at is null "
        f"order by {_pick(day + 104729, 'order_id')} limit {max(2, round(sizes.orders * 0.002))}"
    )
    done["orders fixed without updated_at"] = cur.rowcount
    cur.execute(
        "update warranty_claims set labour_cost = round(labour_cost * 1.02, 2) "
        f"where status in ('submitted', 'approved') order by {_pick(day + 104729, 'claim_id')} "
        f"limit {max(2, round(sizes.claims * 0.005))}"
    )
    done["claims fixed without updated_at"] = cur.rowcount

    cur.execute(
        "update customers set deleted_at = utc_timestamp(6), updated_at = utc_timestamp(6) "
        f"where deleted_at is null order by {_pick(day + 7919, 'customer_id')} "
        f"limit {max(1, round(sizes.customers * 0.0002))}"
    )
    done["customers soft-deleted"] = cur.rowcount
    cur.execute(
        "update sales_orders set deleted_at = utc_timestamp(6), updated_at = utc_timestamp(6) "
        f"where deleted_at is null order by {_pick(day + 7919, 'order_id')} "
        f"limit {max(1, round(sizes.orders * 0.0005))}"
    )
    done["orders soft-deleted"] = cur.rowcount

    cur.execute(
        f"delete from sales_orders where status = 'cancelled' "
        f"order by {_pick(day, 'order_id')} limit {max(1, round(sizes.orders * 0.0002))}"
    )
    done["orders hard-deleted"] = cur.rowcount
    cur.execute(
        f"delete from warranty_claims where status = 'rejected' "
        f"order by {_pick(day, 'claim_id')} limit {max(1, round(sizes.claims * 0.001))}"
    )
    done["claims hard-deleted"] = cur.rowcount

    cur.execute(
        "select vin, dealer_id, delivery_date from sales_orders where status = "
        "'delivered' and delivery_date > '0000-00-00' and deleted_at is null "
        f"order by {_pick(day, 'order_id')} limit 500"
    )
    world.sold = [tuple(r) for r in cur.fetchall()]
    n_claims = max(2, round(sizes.claims * 0.002))
    # stamped now, as the application stamps an insert (history rows carry older times)
    claims = [
        (*_claim_row(rng, world, clock["next_claim_id"] + i, now)[:-1], now)
        for i in range(n_claims)
    ]
    done["claims inserted"] = _insert(cur, "warranty_claims", claims)

    cur.execute(
        "update _demo_clock set days_applied = days_applied + 1, next_order_id = %s, "
        "next_customer_id = %s, next_claim_id = %s, next_vin_serial = %s where id = 1",
        (
            clock["next_order_id"] + n_orders,
            clock["next_customer_id"] + n_customers,
            clock["next_claim_id"] + n_claims,
            max(world.serials.values(), default=clock["next_vin_serial"]),
        ),
    )
    return done


def rolled_back(cur, day: int) -> int:
    """A transaction that changes rows and then rolls back; returns the rows it had touched."""
    cur.execute("start transaction")
    cur.execute(
        "update sales_orders set status = 'cancelled', updated_at = utc_timestamp(6) "
        f"where deleted_at is null order by {_pick(day + 15485863, 'order_id')} limit 25"
    )
    touched = cur.rowcount
    cur.execute(f"delete from customers order by {_pick(day + 15485863, 'customer_id')} limit 5")
    touched += cur.rowcount
    cur.execute("rollback")
    return touched


def bulk_vehicles(cur, seed: int, scale: float, day: int, clock: dict) -> int:
    """One large transaction: a plant registers its unsold production in bulk."""
    rng = _rng(seed, f"bulk:{day}")
    world = World(
        seed=seed, sizes=Sizes.for_scale(scale), serials={}, serial_base=clock["next_vin_serial"]
    )
    list(gen_model_trims(world))
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [(*_vehicle(rng, world, now.date()), now) for _ in range(bulk_vehicle_rows(scale))]
    cur.execute("start transaction")
    try:
        for i in range(0, len(rows), 5_000):
            _insert(cur, "vehicles", rows[i : i + 5_000])
        cur.execute(
            "update _demo_clock set next_vin_serial = %s where id = 1",
            (max(world.serials.values()),),
        )
        cur.execute("commit")
    except Exception:
        cur.execute("rollback")
        raise
    return len(rows)


def apply_changes(
    endpoint: Endpoint, database: str, days: int, seed: int | None = None
) -> dict[str, int]:
    """Apply ``days`` simulated days of change; returns the totals per kind of change."""
    totals: dict[str, int] = {}
    with connect(endpoint, database) as conn, conn.cursor() as cur:
        try:
            cur.execute(
                "select seed, scale, days_applied, next_order_id, next_customer_id, "
                "next_claim_id, next_vin_serial from _demo_clock where id = 1"
            )
        except Exception:  # noqa: BLE001 - any failure here means the demo was never seeded
            raise SourceError(
                f"database {database!r} holds no demo data: run `make seed` first"
            ) from None
        row = cur.fetchone()
        if row is None:
            raise SourceError(f"database {database!r} holds no demo data: run `make seed`")
        names = [
            "seed",
            "scale",
            "days_applied",
            "next_order_id",
            "next_customer_id",
            "next_claim_id",
            "next_vin_serial",
        ]
        for _ in range(days):
            cur.execute("select " + ", ".join(names) + " from _demo_clock where id = 1")
            clock = dict(zip(names, cur.fetchone(), strict=True))
            cur.execute("start transaction")
            try:
                day_counts = apply_day(
                    cur,
                    seed if seed is not None else clock["seed"],
                    clock["scale"],
                    clock["days_applied"] + 1,
                    clock,
                )
                cur.execute("commit")
            except Exception:
                cur.execute("rollback")
                raise
            day = clock["days_applied"] + 1
            day_counts["rows in a rolled-back transaction"] = rolled_back(cur, day)
            if day % BULK_EVERY_DAYS == 0:
                cur.execute("select next_vin_serial from _demo_clock where id = 1")
                clock["next_vin_serial"] = cur.fetchone()[0]
                day_counts["vehicles in one bulk transaction"] = bulk_vehicles(
                    cur, seed if seed is not None else clock["seed"], clock["scale"], day, clock
                )
            for k, v in day_counts.items():
                totals[k] = totals.get(k, 0) + v
    return totals
