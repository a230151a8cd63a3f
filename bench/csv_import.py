"""CSV import through the screens: a 100,000-row customers file, dry run + confirm, timed.

    python -m bench.csv_import [--instance /tmp/csv-bench] [--rows 100000] [--runs 5]

Uses (and creates) an embedded server in --instance. Each run uploads the file to
/customers/import/ (the dry run: decode, map headers, every row through the form's
fields and validators) and confirms it (re-check, revenue sealed per row with its id
from the sequence, one transaction, the audit trigger firing per row). Every run adds
--rows customers. Prints medians and p95 of each step and of the whole.
"""
from __future__ import annotations

import argparse
import io
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.setup import bench_app  # noqa: E402

USER, PASSWORD = "csv-bench", "Csv-bench-password-2026"
CITIES = ["深圳", "上海", "Beijing", "London", "杭州", "Berlin"]
INDUSTRIES = ["制造业", "Retail", "软件", "Logistics", "能源", "Finance"]


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(round(len(ordered) * 0.95)) - 1)]
    return f"median {statistics.median(ordered):.2f} s, p95 {p95:.2f} s (n={len(ordered)})"


def customers_csv(rows: int, seed: int = 1) -> bytes:
    rnd = random.Random(seed)
    lines = ["客户名称,所属行业,地理位置,年收入"]
    for i in range(rows):
        name = f"{rnd.choice(CITIES)}测试客户{i}号 Test {i}"
        lines.append(f"{name},{rnd.choice(INDUSTRIES)},{rnd.choice(CITIES)},{rnd.randint(0, 10**9)}.{rnd.randint(0, 99):02d}")
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def signed_in_client(app, role: str = "Admin"):
    """A test client signed in as a bench user of `role` (created once)."""
    from app.ops.bootstrap import bootstrap
    from app.extensions import db

    with app.app_context():
        bootstrap(app, echo=lambda *_: None)
        sm = app.appbuilder.sm
        if sm.find_user(username=USER) is None:
            sm.add_user(USER, "Bench", "User", "csv-bench@example.com", sm.find_role(role), password=PASSWORD)
        db.session.remove()
    client = app.test_client()
    token = csrf(client, "/login/")
    response = client.post("/login/", data={"username": USER, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and "/login" not in response.headers["Location"], "sign-in failed"
    return client


def csrf(client, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf[_-]token"[^>]*(?:value|content)="([^"]+)"', page).group(1)


def bench_setup(size_option: str, size: int, runs: int):
    """(arguments, app) of a CSV benchmark: --instance, a size option, --runs."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--instance", type=Path, default=Path("/tmp/csv-bench"))
    parser.add_argument(size_option, type=int, default=size)
    parser.add_argument("--runs", type=int, default=runs)
    args = parser.parse_args()
    return args, bench_app(args.instance)


def main() -> None:
    args, app = bench_setup("--rows", 100_000, 5)
    app.config["CSV_IMPORT_MAX_BYTES"] = 200 * 2**20
    client = signed_in_client(app)
    data = customers_csv(args.rows)
    print(f"file: {args.rows:,} customers, {len(data) / 2**20:.1f} MB (UTF-8, Chinese headers)")
    checks, confirms, totals = [], [], []
    for run in range(args.runs):
        t0 = time.perf_counter()
        page = client.post("/customers/import/", content_type="multipart/form-data", data={
            "csrf_token": csrf(client, "/customers/import/"), "encoding": "auto",
            "file": (io.BytesIO(data), "customers.csv")}).get_data(as_text=True)
        t1 = time.perf_counter()
        action = re.search(r'action="(/customers/import/[^"]+)"', page)
        assert action, "dry run found problems: " + page[:2000]
        response = client.post(action.group(1), data={"csrf_token": csrf(client, "/")})
        t2 = time.perf_counter()
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        checks.append(t1 - t0)
        confirms.append(t2 - t1)
        totals.append(t2 - t0)
        print(f"run {run + 1}: dry run {t1 - t0:.2f} s, confirm {t2 - t1:.2f} s, total {t2 - t0:.2f} s")
    print(f"dry run (upload, check):            {summary(checks)}")
    print(f"confirm (re-check, seal, insert):   {summary(confirms)}")
    print(f"whole import of {args.rows:,} rows:       {summary(totals)}")


if __name__ == "__main__":
    main()
