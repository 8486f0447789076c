"""Deterministic generator of the demo source database (JLR dealer and vehicle operations).

Same SEED and SCALE give byte-identical tables: every table draws from its own
``random.Random(f"{seed}:{table}")`` and history ends at a fixed date, never "now". Rows are
written as tab-separated files and bulk-loaded with ``LOAD DATA LOCAL INFILE``.

Planted dirt (each kind asserted by a test): zero dates in optional date columns, padded and
mixed-case emails, a TINYINT(1) flag holding 2, orphan foreign keys (sales_orders.dealer_id,
warranty_claims.vin), negative discounts, utf8mb4 text including 4-byte characters, a BIGINT
UNSIGNED beyond 2**63, and a TIME over 24 hours.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path

from ingestion.config.settings import Endpoint
from ingestion.demo import reference as ref
from ingestion.errors import SourceError
from ingestion.source.mysql import connect, quote_ident

HISTORY_START = datetime(2022, 1, 1)
HISTORY_END = datetime(2026, 9, 30, 23, 59, 59)
ZERO_DATE = "0000-00-00"
CENT = Decimal("0.01")
TABLE_ORDER = [
    "plants",
    "vehicle_models",
    "model_trims",
    "dealers",
    "customers",
    "parts",
    "vehicles",
    "sales_orders",
    "warranty_claims",
]
ORPHAN_DEALER_BASE = 900_000  # dealer ids of closed dealers that are no longer in `dealers`


@dataclass(frozen=True)
class Sizes:
    dealers: int
    customers: int
    parts: int
    vehicles: int
    orders: int
    claims: int

    @classmethod
    def for_scale(cls, scale: float) -> Sizes:
        if not 0 < scale <= 100:
            raise ValueError(f"SCALE must be in (0, 100], got {scale}")
        orders = max(200, round(1_000_000 * scale))
        return cls(
            dealers=max(12, round(600 * scale)),
            customers=max(80, round(400_000 * scale)),
            parts=max(40, round(5_000 * scale)),
            vehicles=round(orders * 1.05),
            orders=orders,
            claims=max(30, round(120_000 * scale)),
        )


# ---------------------------------------------------------------- helpers
def _rng(seed: int, table: str) -> random.Random:
    return random.Random(f"{seed}:{table}")  # noqa: S311 - demo data  # nosec B311


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randint(0, max(span, 0)))


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


VIN_TRANSLIT = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
VIN_YEAR = {
    2020: "L",
    2021: "M",
    2022: "N",
    2023: "P",
    2024: "R",
    2025: "S",
    2026: "T",
    2027: "V",
    2028: "W",
}


def make_vin(wmi: str, descriptor: str, model_year: int, plant_letter: str, serial: int) -> str:
    """A 17-character VIN with a valid ISO 3779 / North American check digit in position 9."""
    body = f"{wmi}{descriptor}0{VIN_YEAR[model_year]}{plant_letter}{serial:06d}"
    total = sum(VIN_TRANSLIT[c] * w for c, w in zip(body, VIN_WEIGHTS, strict=True))
    check = "X" if total % 11 == 10 else str(total % 11)
    return body[:8] + check + body[9:]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _tsv(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


# ---------------------------------------------------------------- tables
@dataclass
class World:
    """What later tables need to know about earlier ones."""

    seed: int
    sizes: Sizes
    trims: list[tuple] | None = None  # (trim_id, model_id, price_gbp)
    dealers: list[tuple] | None = None  # (dealer_id, country)
    vehicles: list[tuple] | None = None  # (vin, trim_id, build_date)
    sold: list[tuple] | None = None  # (vin, dealer_id, delivered_on or None)
    serials: dict | None = None
    serial_base: int = 0  # VIN serials continue from here (changes)


def gen_plants(world: World) -> Iterator[tuple]:
    for pid, code, name, country, opened, capacity, _ in ref.PLANTS:
        yield (pid, code, name, country, opened, capacity, datetime(2021, 12, 1))


def gen_vehicle_models(world: World) -> Iterator[tuple]:
    for mid, brand, name, body, launch, electric, *_ in ref.MODELS:
        yield (mid, brand, name, body, launch, electric, datetime(2021, 12, 1))


def gen_model_trims(world: World) -> Iterator[tuple]:
    world.trims = []
    trim_id = 100
    for mid, _, _, _, _, electric, *_ in ref.MODELS:
        for name, powertrain, cc, kw, factor in ref.EV_TRIMS if electric else ref.TRIMS:
            trim_id += 1
            price = _money(ref.MODEL_BASE_PRICE_GBP[mid] * factor)
            world.trims.append((trim_id, mid, price))
            yield (trim_id, mid, name, powertrain, cc, kw, price, "GBP", datetime(2021, 12, 1))


def gen_dealers(world: World) -> Iterator[tuple]:
    rng = _rng(world.seed, "dealers")
    countries = list(ref.COUNTRIES)
    weights = [ref.COUNTRIES[c][2] for c in countries]
    world.dealers = []
    for dealer_id in range(1, world.sizes.dealers + 1):
        country = rng.choices(countries, weights)[0]
        region = rng.choice(list(ref.COUNTRIES[country][3]))
        city = rng.choice(ref.COUNTRIES[country][3][region])
        name = f"{rng.choice(ref.DEALER_BRANDS)} {city}"
        if country == "JP" and rng.random() < 0.5:
            name = f"𠮷田モータース {city}"  # 4-byte utf8mb4 character in a dealer name
        name = f"{name} #{dealer_id}"
        opened = date(1985, 1, 1) + timedelta(days=rng.randint(0, 13_500))
        rating = None if rng.random() < 0.1 else round(rng.uniform(2.5, 5.0), 1)
        world.dealers.append((dealer_id, country))
        yield (
            dealer_id,
            f"{country}{dealer_id:05d}",
            name,
            country,
            region,
            city,
            opened,
            int(rng.random() < 0.95),
            rating,
            _between(rng, HISTORY_START, HISTORY_END),
        )


def gen_customers(world: World) -> Iterator[tuple]:
    rng = _rng(world.seed, "customers")
    countries = list(ref.COUNTRIES)
    weights = [ref.COUNTRIES[c][2] for c in countries]
    for customer_id in range(1, world.sizes.customers + 1):
        yield _customer_row(
            rng,
            customer_id,
            rng.choices(countries, weights)[0],
            _between(rng, HISTORY_START, HISTORY_END - timedelta(days=30)),
            HISTORY_END,
        )


def _customer_row(
    rng: random.Random, customer_id: int, country: str, created: datetime, latest: datetime
) -> tuple:
    first = rng.choice(ref.FIRST_NAMES[country])
    last = rng.choice(ref.LAST_NAMES[country])
    local = (
        f"{rng.choice(ref.ASCII_NAMES[country])}.{customer_id}"
        if country in ref.ASCII_NAMES
        else f"{_ascii(first)}.{_ascii(last).replace(chr(39), '')}{customer_id}"
    )
    email: str | None = f"{local}@{rng.choice(ref.EMAIL_DOMAINS)}"
    roll = rng.random()
    if roll < 0.03:
        email = f"  {email} "  # dirt: padded
    elif roll < 0.13:
        email = email.title() if rng.random() < 0.5 else email.upper()  # dirt: mixed case
    elif roll < 0.18:
        email = None
    phone = (
        None
        if rng.random() < 0.03
        else rng.choice(
            [
                f"+44 7700 {rng.randint(900000, 900999)}",
                f"07700{rng.randint(900000, 900999)}",
                f"(020) 7946 {rng.randint(0, 9999):04d}",
                f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
            ]
        )
    )
    roll = rng.random()
    if roll < 0.01:
        birth: object = ZERO_DATE  # dirt: zero date
    elif roll < 0.80:
        birth = date(1940, 1, 1) + timedelta(days=rng.randint(0, 29_000))
    else:
        birth = None
    updated = created + timedelta(
        seconds=rng.randint(0, int((latest - created).total_seconds())),
        microseconds=rng.randint(0, 999_999),
    )
    deleted = updated if rng.random() < 0.01 else None  # soft delete
    opt_in = int(rng.random() < 0.4)
    if rng.random() < 0.005:
        opt_in = 2  # dirt: a TINYINT(1) "boolean" holding 2 (the curate job quarantines it)
    return (
        customer_id,
        first,
        last,
        email,
        phone,
        birth,
        country,
        opt_in,
        created,
        updated,
        deleted,
    )


def gen_parts(world: World) -> Iterator[tuple]:
    rng = _rng(world.seed, "parts")
    categories = list(ref.PART_CATEGORIES)
    for part_id in range(1, world.sizes.parts + 1):
        category = rng.choice(categories)
        prefix, nouns = ref.PART_CATEGORIES[category]
        flags = rng.randint(1, 15) if category == "battery" else (8 if rng.random() < 0.05 else 0)
        yield (
            part_id,
            f"{'LR' if part_id % 3 else 'J9C'}{part_id:06d}",
            f"{prefix} {rng.choice(nouns)}",
            category,
            _money(rng.uniform(4, 2400)),
            round(rng.uniform(0.05, 180.0), 3),
            flags,
            int(rng.random() < 0.9),
            _between(rng, HISTORY_START, HISTORY_END),
        )


def _vehicle(rng: random.Random, world: World, build: date) -> tuple:
    trim_id, model_id, _ = rng.choice(world.trims)
    model = ref.MODELS[model_id - 1]
    plant_id = rng.choice(model[6])
    plant_letter = ref.PLANTS[plant_id - 1][6]
    model_year = build.year + (1 if build.month >= 7 else 0)
    wmi = "SAJ" if model[1] == "Jaguar" else "SAL"
    key = (wmi, model_year, plant_letter)
    world.serials[key] = world.serials.get(key, world.serial_base) + 1
    vin = make_vin(wmi, model[7], model_year, plant_letter, world.serials[key])
    options = {
        "pack": rng.choice(ref.OPTION_PACKS),
        "wheels_in": rng.choice([19, 20, 21, 22]),
        "towing": rng.random() < 0.3,
        "extras": sorted(rng.sample(ref.OPTION_EXTRAS, rng.randint(0, 4))),
    }
    return (
        vin,
        trim_id,
        plant_id,
        model_year,
        rng.choice(ref.COLOURS),
        build,
        json.dumps(options, sort_keys=True, ensure_ascii=False),
    )


def gen_vehicles(world: World) -> Iterator[tuple]:
    rng = _rng(world.seed, "vehicles")
    world.vehicles, world.serials = [], {}
    last_build = (HISTORY_END - timedelta(days=20)).date()
    span = (last_build - HISTORY_START.date()).days
    for _ in range(world.sizes.vehicles):
        build = HISTORY_START.date() + timedelta(days=rng.randint(0, span))
        row = _vehicle(rng, world, build)
        world.vehicles.append((row[0], row[1], build))
        updated = datetime.combine(build, datetime.min.time()) + timedelta(
            seconds=rng.randint(0, 86_399), microseconds=rng.randint(0, 999_999)
        )
        yield (*row, updated)


def gen_sales_orders(world: World) -> Iterator[tuple]:
    rng = _rng(world.seed, "sales_orders")
    price = {t[0]: t[2] for t in world.trims}
    vehicles = list(world.vehicles)
    rng.shuffle(vehicles)
    world.sold = []
    for order_id in range(1, world.sizes.orders + 1):
        vin, trim_id, build = vehicles[order_id - 1]
        dealer_id, country = rng.choice(world.dealers)
        currency, rate = ref.COUNTRIES[country][0], ref.COUNTRIES[country][1]
        if rng.random() < 0.005:
            dealer_id = ORPHAN_DEALER_BASE + rng.randint(1, 40)  # dirt: closed dealer, orphan
        start = datetime.combine(build, datetime.min.time()) + timedelta(days=rng.randint(1, 60))
        order_dt = min(start + timedelta(seconds=rng.randint(0, 86_399)), HISTORY_END)
        yield _order_row(
            rng,
            world,
            order_id,
            dealer_id,
            rng.randint(1, world.sizes.customers),
            vin,
            order_dt,
            _money(float(price[trim_id]) * rate),
            currency,
            HISTORY_END,
        )


def _order_row(
    rng: random.Random,
    world: World,
    order_id: int,
    dealer_id: int,
    customer_id: int,
    vin: str,
    order_dt: datetime,
    list_price: Decimal,
    currency: str,
    now: datetime,
) -> tuple:
    roll = rng.random()
    if roll < 0.01:
        discount = -_money(rng.uniform(50, 500))  # dirt: negative discount
    elif roll < 0.35:
        discount = Decimal(0).quantize(CENT)
    else:
        discount = (list_price * Decimal(str(round(rng.uniform(0.01, 0.09), 4)))).quantize(CENT)
    age_days = (now - order_dt).days
    if rng.random() < 0.03:
        status = "cancelled"
    elif age_days > 120:
        status = "delivered"
    else:
        status = rng.choice(["ordered", "allocated", "in_transit", "delivered"])
    delivery: object = None
    last_change = order_dt + timedelta(days=rng.randint(0, 5))
    if status == "delivered":
        delivered_on = (order_dt + timedelta(days=rng.randint(7, 90))).date()
        delivered_on = min(delivered_on, now.date())
        delivery = ZERO_DATE if rng.random() < 0.02 else delivered_on  # dirt: zero date
        last_change = datetime.combine(delivered_on, datetime.min.time()) + timedelta(hours=10)
        world.sold.append((vin, dealer_id, delivered_on))
    updated = min(last_change, now) + timedelta(microseconds=rng.randint(0, 999_999))
    finance = ",".join(
        sorted(rng.sample(["cash", "pcp", "lease", "insurance", "service_plan"], rng.randint(1, 3)))
    )
    payment_ref = None if rng.random() < 0.1 else rng.getrandbits(64)  # half beyond 2**63
    deleted = updated if rng.random() < 0.005 else None
    return (
        order_id,
        dealer_id,
        customer_id,
        vin,
        order_dt,
        delivery,
        list_price,
        discount,
        list_price - discount,
        currency,
        status,
        rng.choices(["retail", "fleet", "online"], [80, 15, 5])[0],
        finance,
        payment_ref,
        order_dt,
        updated,
        deleted,
    )


def gen_warranty_claims(world: World) -> Iterator[tuple]:
    rng = _rng(world.seed, "warranty_claims")
    for claim_id in range(1, world.sizes.claims + 1):
        yield _claim_row(rng, world, claim_id, HISTORY_END)


def _claim_row(rng: random.Random, world: World, claim_id: int, now: datetime) -> tuple:
    vin, dealer_id, delivered_on = rng.choice(world.sold)
    if dealer_id >= ORPHAN_DEALER_BASE:
        dealer_id = rng.choice(world.dealers)[0]
    if rng.random() < 0.01:  # dirt: a VIN no vehicle has (grey import / typo)
        vin = make_vin("SAL", "XX9XX", 2024, "Z", rng.randint(900_000, 999_999))
    span = max((now.date() - delivered_on).days, 0)
    claimed = delivered_on + timedelta(days=rng.randint(0, span))
    hours = Decimal(str(round(rng.uniform(0.3, 12.0), 2)))
    seconds = int(hours * 3600)
    if rng.random() < 0.005:
        seconds = rng.randint(25 * 3600, 60 * 3600)  # a repair spanning days: TIME over 24h
    repair = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    status = rng.choices(["submitted", "approved", "rejected", "paid"], [10, 20, 8, 62])[0]
    description = None if rng.random() < 0.2 else rng.choice(ref.FAILURES)
    updated = datetime.combine(claimed, datetime.min.time()) + timedelta(
        days=rng.randint(0, 20), seconds=rng.randint(0, 86_399)
    )
    return (
        claim_id,
        vin,
        dealer_id,
        rng.randint(1, world.sizes.parts),
        claimed,
        rng.randint(100, 99_000),
        hours,
        repair,
        _money(float(hours) * 115.0),
        _money(rng.uniform(5, 3000)),
        status,
        description,
        min(updated, now),
    )


GENERATORS: dict[str, Callable[[World], Iterator[tuple]]] = {
    "plants": gen_plants,
    "vehicle_models": gen_vehicle_models,
    "model_trims": gen_model_trims,
    "dealers": gen_dealers,
    "customers": gen_customers,
    "parts": gen_parts,
    "vehicles": gen_vehicles,
    "sales_orders": gen_sales_orders,
    "warranty_claims": gen_warranty_claims,
}
# LOAD DATA needs a variable + SET for BIT columns (a text '5' would be read as bytes).
BIT_COLUMNS = {"parts": {"hazard_flags"}}


# ---------------------------------------------------------------- loading
def _load_tsv(conn, table: str, path: Path) -> int:
    with conn.cursor() as cur:
        cur.execute(
            "select column_name from information_schema.columns "
            "where table_schema = database() and table_name = %s order by ordinal_position",
            (table,),
        )
        columns = [r[0] for r in cur.fetchall()]
        bits = BIT_COLUMNS.get(table, set())
        targets = ", ".join(f"@{c}" if c in bits else quote_ident(c) for c in columns)
        sets = ", ".join(f"{quote_ident(c)} = cast(@{c} as unsigned)" for c in columns if c in bits)
        cur.execute(
            f"load data local infile %s into table {quote_ident(table)} character set utf8mb4 "
            f"fields terminated by '\\t' escaped by '\\\\' lines terminated by '\\n' ({targets})"
            + (f" set {sets}" if sets else ""),
            (str(path),),
        )
        loaded = cur.rowcount
        cur.execute("show warnings")
        warnings = cur.fetchall()
    if warnings:
        raise SourceError(
            f"loading demo table {table}: {len(warnings)} warnings, first: {warnings[0][2]}"
        )
    return loaded


def _write_tsv(path: Path, rows: Iterable[tuple]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write("\t".join(map(_tsv, row)) + "\n")
            count += 1
    return count


def schema_sql() -> list[str]:
    text = resources.files("ingestion.demo").joinpath("schema.sql").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def seed_database(
    endpoint: Endpoint,
    database: str,
    scale: float,
    seed: int,
    on_table: Callable[[str, int, float], None] | None = None,
) -> dict[str, int]:
    """Drop and recreate ``database`` with demo data; returns rows loaded per table."""
    sizes = Sizes.for_scale(scale)
    world = World(seed=seed, sizes=sizes)
    counts: dict[str, int] = {}
    with connect(endpoint, local_infile=True) as conn, tempfile.TemporaryDirectory() as tmp:
        with conn.cursor() as cur:
            cur.execute(f"drop database if exists {quote_ident(database)}")
            cur.execute(
                f"create database {quote_ident(database)} "
                "character set utf8mb4 collate utf8mb4_unicode_ci"
            )
            cur.execute(f"use {quote_ident(database)}")
            for statement in schema_sql():
                cur.execute(statement)
        for table in TABLE_ORDER:
            started = time.perf_counter()
            path = Path(tmp) / f"{table}.tsv"
            written = _write_tsv(path, GENERATORS[table](world))
            loaded = _load_tsv(conn, table, path)
            if loaded != written:
                raise SourceError(f"demo table {table}: wrote {written} rows, loaded {loaded}")
            counts[table] = loaded
            path.unlink()
            if on_table:
                on_table(table, loaded, time.perf_counter() - started)
        with conn.cursor() as cur:
            cur.execute(
                "insert into _demo_clock values (1, %s, %s, 0, %s, %s, %s, %s)",
                (seed, scale, sizes.orders + 1, sizes.customers + 1, sizes.claims + 1, 500_000),
            )
    return counts
