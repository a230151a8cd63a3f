"""Rows with encrypted amounts (customers, opportunities): built in Python, sent with COPY.

The amounts must be AES-GCM ciphertext under the instance's key ring, with the
row's id as associated data, exactly as the ORM writes them; the database never
sees the plain numbers, so these rows cannot be generated inside PostgreSQL.
"""
from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal
from typing import Callable, Iterator

import psycopg

from app.models.choices import OPPORTUNITY_STAGES
from app.encryption.columns import band_of
from app.encryption.keyring import KeyRing
from app.seed.plan import YEARS
from app.seed.sql_rows import SKEW, Span
from app.seed.staff import NOBODY, Staff
from app.seed.words import CITIES_EN, CITIES_ZH, INDUSTRIES, PRODUCTS_EN, PRODUCTS_ZH, Names

STAGE_WEIGHTS = (22, 16, 13, 9, 22, 18)  # initial .. won, lost
OWN_DEALS = 0.85  # share of opportunities owned by their customer's owner
BATCH = 20_000
CENT = Decimal("0.01")


def _moment(rng: random.Random, now: dt.datetime) -> dt.datetime:
    """As sql_rows.when(): the last five years, more of it recent."""
    return now - dt.timedelta(seconds=YEARS * 365.25 * 86400 * (1 - math.sqrt(rng.random())))


def _amount(rng: random.Random, mu: float) -> Decimal:
    return Decimal(round(min(rng.lognormvariate(mu, 1.6), 9e15), 2)).quantize(CENT)


def customers(names: Names, ring: KeyRing, ids: Span, now: dt.datetime, staff: Staff = NOBODY) -> Iterator[tuple]:
    rng = names.rng
    for i in range(ids.base + 1, ids.base + ids.count + 1):
        chinese = i % 2 == 0
        revenue = _amount(rng, 14) if rng.random() < 0.9 else None
        sealed = None if revenue is None else ring.encrypt(revenue, "customers", "revenue", i)
        when = _moment(rng, now)
        yield (i, names.company(chinese), rng.choice(INDUSTRIES) if rng.random() < 0.95 else None,
               rng.choice(CITIES_ZH if chinese else CITIES_EN), sealed, band_of(revenue), when, when,
               staff.of_customer(i))


def opportunities(names: Names, ring: KeyRing, ids: Span, parents: Span,
                  now: dt.datetime, staff: Staff = NOBODY) -> Iterator[tuple]:
    rng = names.rng
    brands = names.vocab
    for i in range(ids.base + 1, ids.base + ids.count + 1):
        chinese = rng.random() < 0.5
        product = rng.choice(PRODUCTS_ZH if chinese else PRODUCTS_EN)
        if chinese:
            name = f"{rng.choice(brands.brands_zh)}{product}项目"
        else:
            name = f"{product.capitalize()} for {rng.choice(brands.brands_en)}"
        value = _amount(rng, 10.5) if rng.random() < 0.95 else None
        sealed = None if value is None else ring.encrypt(value, "opportunities", "value", i)
        when = _moment(rng, now)
        customer = parents.base + 1 + int(parents.count * rng.random() ** SKEW)
        close = (when + dt.timedelta(days=rng.randint(14, 240))).date()
        # mostly the customer's owner; sometimes a colleague works the deal
        owner = staff.of_customer(customer) if rng.random() < OWN_DEALS else staff.pick(rng)
        yield (i, customer, name, rng.choices(OPPORTUNITY_STAGES, STAGE_WEIGHTS)[0], sealed, band_of(value),
               close, when, when, owner)


COLUMNS = {
    "customers": "customer_id, name, industry, location, revenue, revenue_band, created_at, updated_at, owner_id",
    "opportunities": "opportunity_id, customer_id, name, stage, value, value_band, close_date, created_at, updated_at, "
                     "owner_id",
}


def copy(conn: psycopg.Connection, table: str, rows: Iterator[tuple], progress: Callable[[int], None]) -> int:
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as stream:
        for count, row in enumerate(rows, 1):
            stream.write_row(row)
            if count % BATCH == 0:
                progress(BATCH)
    progress(count % BATCH)
    return count
