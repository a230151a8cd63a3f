"""A bulk "set a field" on every row matching a filtered list: rows changed per second.

    python -m bench.bulk_set [--instance /tmp/csv-bench] [--tickets 200000] [--runs 3]

Tops service_tickets up to --tickets rows (the seed's loader), then, through the app as a
signed-in admin, sets the priority of every ticket of one status (the list filtered by
`status = open`, "select all matching"): the confirmation's count, then the POST, which
updates the rows set-based in batches in one transaction, each row logged by the audit
trigger. Each run sets the other of two priorities, so every run changes every matching row.
Above CRM_BULK_INLINE_LIMIT matching rows (5,000) the POST starts a background job; the
update time is then until the job's status says done (polled as the progress page does).
"""
from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.csv_import import bench_setup, csrf, signed_in_client  # noqa: E402
from bench.setup import fill  # noqa: E402


def main() -> None:
    args, app = bench_setup("--tickets", 200_000, 3)
    total = fill(app, {"service_tickets": args.tickets}, echo=print)["service_tickets"]
    client = signed_in_client(app)
    from app.lists.links import EQ, filter_index

    with app.app_context():
        flt = f"_flt_{filter_index('/tickets', 'status', EQ)}_status=open"
    url = f"/tickets/bulk/set?all=1&{flt}&field=priority"
    print(f"service tickets: {total:,} rows", flush=True)
    confirms, updates, rates = [], [], []
    for run in range(args.runs):
        t0 = time.perf_counter()
        page = client.get(url).get_data(as_text=True)
        confirms.append(time.perf_counter() - t0)
        rows = int(re.search(r'name="expected" value="(\d+)"', page).group(1))
        t1 = time.perf_counter()
        response = client.post(url, data={"csrf_token": csrf(client, "/"), "expected": str(rows),
                                          "field": "priority", "priority": ("urgent", "low")[run % 2]})
        assert response.status_code == 302, response.status_code
        answered = time.perf_counter() - t1
        location = response.headers["Location"]
        if "/bulk/jobs/" in location:  # above CRM_BULK_INLINE_LIMIT: a background job; follow its progress
            while not (status := client.get(location + "/status").get_json())["finished"]:
                time.sleep(0.2)
            assert status["status"] == "done", status
            print(f"  run {run + 1}: background job {status['job']}, the POST answered in {answered:.2f} s",
                  flush=True)
        updates.append(time.perf_counter() - t1)
        rates.append(rows / updates[-1])
        print(f"  run {run + 1}: {rows:,} rows; confirmation {confirms[-1]:.2f} s, update {updates[-1]:.1f} s",
              flush=True)
    print(f"set priority on status = open ({rows:,} rows): confirmation median {statistics.median(confirms):.2f} s; "
          f"update median {statistics.median(updates):.1f} s (max {max(updates):.1f} s, n={len(updates)}); "
          f"{statistics.median(rates):,.0f} rows/s", flush=True)


if __name__ == "__main__":
    main()
