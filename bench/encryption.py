"""What encryption at rest costs: per value, per page load, and for `rotate-key`.

    CRM_INSTANCE_DIR=/tmp/prot-bench python bench/encryption.py [--rows 20000]

Uses (and creates) the embedded server in CRM_INSTANCE_DIR; loads --rows customers
and as many opportunities with encrypted amounts; prints medians and p95.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def summary(samples: list[float], unit: str, scale: float) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"median {statistics.median(ordered) * scale:.1f} {unit}, p95 {p95 * scale:.1f} {unit} (n={len(ordered)})"


def per_value(ring, n: int = 20000) -> None:
    encrypt, decrypt = [], []
    for i in range(n):
        amount = Decimal(i * 37) / 100
        t0 = time.perf_counter()
        sealed = ring.encrypt(amount, "customers", "revenue", i)
        t1 = time.perf_counter()
        assert ring.decrypt(sealed, "customers", "revenue", i) == amount
        t2 = time.perf_counter()
        encrypt.append(t1 - t0)
        decrypt.append(t2 - t1)
    print(f"encrypt one value: {summary(encrypt, 'µs', 1e6)}")
    print(f"decrypt one value: {summary(decrypt, 'µs', 1e6)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import func, insert, select, text

    from app import create_app
    from app.encryption.columns import key_ring, seal_rows
    from app.encryption.rotation import count_pending, reencrypt
    from app.extensions import db
    from app.models import Customer, Opportunity

    app = create_app()
    with app.app_context():
        upgrade()
        ring = key_ring()
        per_value(ring)
        have = db.session.scalar(select(func.count()).select_from(Customer))
        if have < args.rows:
            for start in range(have, args.rows, 5000):
                size = min(5000, args.rows - start)
                rows = seal_rows(db.session.connection(), Customer, [
                    {"name": f"Bench {start + i}", "revenue": Decimal(start + i) * 13} for i in range(size)])
                ids = list(db.session.scalars(insert(Customer).returning(Customer.customer_id), rows))
                seal_rows(db.session.connection(), Opportunity, opps := [
                    {"name": f"Deal {i}", "customer_id": cid, "value": Decimal(cid) * 7} for i, cid in enumerate(ids)])
                db.session.execute(insert(Opportunity), opps)
                db.session.commit()
        total = db.session.scalar(select(func.count()).select_from(Customer))
        print(f"data: {total} customers, {db.session.scalar(select(func.count()).select_from(Opportunity))} opportunities")

        pages, plain = [], []
        for page in range(30):
            db.session.expunge_all()
            t0 = time.perf_counter()
            rows = db.session.scalars(select(Customer).order_by(Customer.customer_id).offset(page * 100).limit(100)).all()
            assert all(r.revenue is not None for r in rows)
            pages.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            db.session.execute(text("SELECT customer_id, name, revenue FROM customers ORDER BY customer_id "
                                    "OFFSET :o LIMIT 100"), {"o": page * 100}).fetchall()
            plain.append(time.perf_counter() - t0)
        print(f"list page of 100 customers through the ORM (decrypting): {summary(pages, 'ms', 1e3)}")
        print(f"same 100 rows as raw SQL, no decryption:                {summary(plain, 'ms', 1e3)}")
        db.session.remove()

        values = 2 * total
        if ring.path is not None:
            ring.add_key()
        assert count_pending(db.engine, ring) == values
        t0 = time.perf_counter()
        done = reencrypt(db.engine, ring, batch_size=1000)
        elapsed = time.perf_counter() - t0
        print(f"rotate-key: {done} values re-encrypted in {elapsed:.1f} s ({done / elapsed:,.0f} values/s, "
              f"batches of 1000)")


if __name__ == "__main__":
    main()
