"""CSV export of a large list: rows per second and the process's memory while streaming.

    python -m bench.csv_export [--instance /tmp/csv-bench] [--customers 1000000] [--runs 3]

Tops the customers table up to --customers rows (the seed's loader), then downloads
/customers/export/ through the app (unfiltered, and filtered on a city) and reads the
body chunk by chunk, sampling the resident set size (VmRSS) of this process, which runs
the app. A pre-built body would grow with the rows; a streamed one stays flat.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.csv_import import bench_setup, signed_in_client  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def download(client, url: str) -> tuple[float, int, int, float]:
    """(seconds, rows, bytes, peak RSS MB while streaming)."""
    t0 = time.perf_counter()
    response = client.get(url, buffered=False)
    assert response.status_code == 200, response.status_code
    size = lines = 0
    peak = rss_mb()
    for n, chunk in enumerate(response.response):
        size += len(chunk)
        lines += chunk.count(b"\r\n")
        if n % 50 == 0:
            peak = max(peak, rss_mb())
    response.close()
    return time.perf_counter() - t0, lines - 1, size, max(peak, rss_mb())


def fill_customers(app, wanted: int) -> int:
    """Top customers up to `wanted` rows with the seed's loader (as the schema owner)."""
    from bench.setup import fill

    return fill(app, {"customers": wanted}, echo=print)["customers"]


def main() -> None:
    args, app = bench_setup("--customers", 1_000_000, 3)
    total = fill_customers(app, args.customers)
    client = signed_in_client(app)
    print(f"customers: {total:,} rows", flush=True)
    from app.lists.links import EQ, filter_index

    with app.app_context():
        city = f"_flt_{filter_index('/customers', 'location', EQ)}_location=深圳"
    for label, url in (("all customers", "/customers/export/"),
                       ("location = 深圳, by name", f"/customers/export/?{city}&_oc_CustomerView=name&_od_CustomerView=asc")):
        base = rss_mb()
        times, rates, peaks = [], [], []
        for _ in range(args.runs):
            seconds, rows, size, peak = download(client, url)
            times.append(seconds)
            rates.append(rows / seconds)
            peaks.append(peak)
            print(f"  {label}: {seconds:.1f} s, {rows:,} rows, peak RSS {peak:.0f} MB", flush=True)
        print(f"{label}: {rows:,} rows, {size / 2**20:.0f} MB CSV; time median {statistics.median(times):.1f} s "
              f"(max {max(times):.1f} s, n={len(times)}); {statistics.median(rates):,.0f} rows/s; "
              f"RSS before {base:.0f} MB, peak while streaming {max(peaks):.0f} MB", flush=True)


if __name__ == "__main__":
    main()
