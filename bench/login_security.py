"""Cost of the login-security checks: the per-request session check, a sign-in, a lockout count.

    python bench/login_security.py [--requests 400]

Starts its own embedded PostgreSQL in a temporary directory (or uses
TEST_ADMIN_DATABASE_URL), builds a database with the migrations and the start-up sync,
then times requests through the Flask test client. Prints medians and p95 in ms.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ADMIN_PASSWORD, Server, login, make_app  # noqa: E402


def timed(fn, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    n = parser.parse_args().requests
    with tempfile.TemporaryDirectory(prefix="sec-bench-") as tmp:
        server = Server(Path(tmp))
        try:
            url = server.create_database("crm_bench_login")
            app = make_app(server, url, ADMIN_PASSWORD=ADMIN_PASSWORD, AUTH_RATE_LIMIT_ATTEMPTS=10**6,
                           AUTH_LOCKOUT_FAILURES=10**6)
            with app.app_context():
                from flask_migrate import upgrade

                from app.ops.bootstrap import bootstrap
                from app.extensions import db

                upgrade()
                bootstrap(app, echo=lambda *_: None)
                db.session.remove()
            client = app.test_client()
            login(client)
            page = "/api/v1/customers/?q=(page_size:1)"
            assert client.get(page).status_code == 200
            with_check = timed(lambda: client.get(page), n)
            from app.security.sessions import check_session

            funcs = app.before_request_funcs[None]
            funcs.remove(check_session)
            without = timed(lambda: client.get(page), n)
            funcs.insert(0, check_session)
            anon = app.test_client()
            sign_in = timed(lambda: login(anon) and anon.get("/logout/"), max(20, n // 20))
            failed = timed(lambda: login(anon, "admin", "wrong password"), max(20, n // 20))
            print(f"data: 0 CRM rows, 6 roles, 1 user; {n} requests per case")
            print(f"authenticated GET {page}: with session check median {with_check[0]:.1f} ms "
                  f"p95 {with_check[1]:.1f} ms; without median {without[0]:.1f} ms p95 {without[1]:.1f} ms")
            print(f"sign-in + logout (scrypt, session row): median {sign_in[0]:.1f} ms p95 {sign_in[1]:.1f} ms")
            print(f"failed sign-in (lockout count): median {failed[0]:.1f} ms p95 {failed[1]:.1f} ms")
            with app.app_context():
                db.engine.dispose()
        finally:
            server.drop_database("crm_bench_login")
            server.stop()


if __name__ == "__main__":
    main()
