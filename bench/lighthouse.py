"""Lighthouse on a phone (its default mobile profile) against a demo instance: `python -m bench.lighthouse`.

A demo instance (the `make run` data: 100 customers, report snapshots) in LIGHTHOUSE_INSTANCE
(default /tmp/crm-lighthouse) is bootstrapped, served by gunicorn with `crm serve`'s options and
signed in as admin; Lighthouse 12.2.3 (bench/lighthouse/package-lock.json, `npm ci` on first use)
drives /usr/bin/chromium headless over the customers list, a customer's page and the dashboard,
passing the session cookie as an extra header. Each page: RUNS cold runs (a new browser profile,
storage reset) and, in the same browser after each, a warm run that keeps the HTTP cache; the
medians are printed as a Markdown table (docs/performance.md quotes it) and every report's JSON
is kept in bench/results/lighthouse/.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.served import ROOT, serve

NODE_DIR = ROOT / "bench" / "lighthouse"
LIGHTHOUSE = NODE_DIR / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
CATEGORIES = ("performance", "accessibility", "best-practices")
PASSWORD = "lighthouse-bench-Passw0rd!"
RESULTS = ROOT / "bench" / "results" / "lighthouse"
ATTEMPTS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_lighthouse() -> None:
    """The pinned Lighthouse from bench/lighthouse/package-lock.json."""
    if not LIGHTHOUSE.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)


def prepare(instance: Path) -> None:
    """Migrate and bootstrap the demo instance (demo data on first use); admin's password set."""
    env = {**os.environ, "CRM_INSTANCE_DIR": str(instance), "CRM_ADMIN_PASSWORD": PASSWORD,
           "CRM_DEMO_DATA": "1", "CRM_WAL_ARCHIVE": "0"}
    flask = [sys.executable, "-m", "flask", "--app", "run", "crm"]
    subprocess.run([*flask, "bootstrap"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    script = ("from app import create_app\nfrom app.extensions import db\nfrom app.models import User\n"
              "from app.security.passwords import set_password\napp = create_app()\n"
              "with app.app_context():\n"
              "    admin = db.session.query(User).filter_by(username='admin').one()\n"
              f"    set_password(admin, {PASSWORD!r})\n"
              "    admin.active, admin.fail_login_count, admin.locked_until = True, 0, None\n"
              "    db.session.commit()\n")
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True)


def stop_database(instance: Path) -> None:
    from app.ops.embedded_db import EmbeddedPostgres

    EmbeddedPostgres(instance).stop()


def launch_chromium(profile: Path) -> tuple[subprocess.Popen, int]:
    """Headless Chromium with a DevTools port, on its own profile (its HTTP cache lives there)."""
    port = free_port()
    proc = subprocess.Popen([CHROMIUM, *CHROME_FLAGS, f"--remote-debugging-port={port}",
                             f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=2).read()
            return proc, port
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("chromium did not open its DevTools port") from None
            time.sleep(0.2)


SKIP_AUDITS: list[str] = []  # --skip-audits: e.g. uses-text-compression, which reads every uncompressed body


def lighthouse(url: str, port: int, cookie: str, out: Path, warm: bool) -> dict:
    """One Lighthouse run (phone profile) through the browser on `port`; the report as JSON."""
    cmd = [str(LIGHTHOUSE), url, f"--port={port}", "--output=json", f"--output-path={out}", "--quiet",
           "--extra-headers", json.dumps({"Cookie": cookie}),
           "--only-categories=" + (",".join(CATEGORIES) if not warm else "performance")]
    if SKIP_AUDITS:
        cmd.append("--skip-audits=" + ",".join(SKIP_AUDITS))
    if warm:
        cmd.append("--disable-storage-reset")  # keeps the HTTP cache of the cold run before it
    for attempt in range(ATTEMPTS):  # a loaded machine may time out a DevTools call: try again
        done = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              timeout=600)
        if done.returncode == 0:
            return json.loads(out.read_text())
        print(f"lighthouse failed on {url} (attempt {attempt + 1}): {done.stderr.strip()[-500:]}", flush=True)
    raise RuntimeError(f"lighthouse failed {ATTEMPTS} times on {url}")


def figures(report: dict) -> dict:
    """Scores (0–100), bytes on the wire, largest contentful paint (ms) of one report."""
    audits, categories = report["audits"], report["categories"]
    row = {name: round(categories[name]["score"] * 100) for name in CATEGORIES if name in categories}
    row["bytes"] = audits["total-byte-weight"]["numericValue"]
    row["requests"] = len(audits["network-requests"]["details"]["items"])
    row["lcp"] = audits["largest-contentful-paint"]["numericValue"]
    row["fcp"] = audits["first-contentful-paint"]["numericValue"]
    row["tbt"] = audits["total-blocking-time"]["numericValue"]
    row["cls"] = audits["cumulative-layout-shift"]["numericValue"]
    row["benchmark"] = report["environment"]["benchmarkIndex"]  # Lighthouse's CPU speed; ~1,000+ when idle
    return row


def measure(base: str, path: str, cookie: str, runs: int, name: str) -> dict:
    """Median figures of `runs` cold runs, and the warm runs' bytes on the wire."""
    cold, warm = [], []
    for run in range(runs):
        profile = Path(tempfile.mkdtemp(prefix="crm-lighthouse-"))
        proc, port = launch_chromium(profile)
        try:
            cold.append(figures(lighthouse(base + path, port, cookie, RESULTS / f"{name}-{run}-cold.json", False)))
            warm.append(figures(lighthouse(base + path, port, cookie, RESULTS / f"{name}-{run}-warm.json", True)))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            shutil.rmtree(profile, ignore_errors=True)
    median = {key: statistics.median(row[key] for row in cold) for key in cold[0]}
    median["warm_bytes"] = statistics.median(row["bytes"] for row in warm)
    median["warm_requests"] = statistics.median(row["requests"] for row in warm)
    median["runs"] = cold
    return median


def first_customer(base: str, cookie: str) -> str:
    request = urllib.request.Request(base + "/customers/list/", headers={"Cookie": cookie})
    page = urllib.request.urlopen(request, timeout=60).read().decode()
    return re.search(r'href="(/customers/show/\d+)', page).group(1)


def table(rows: dict[str, dict], runs: int) -> str:
    lines = [(f"Lighthouse 12.2.3, phone profile (simulated slow 4G, 4x CPU slowdown), median of {runs} runs; "
              f"{dt.date.today().isoformat()}"),
             "",
             ("| page | performance | accessibility | best practices | LCP | FCP | TBT | CLS "
              "| bytes cold (requests) | bytes warm (requests) | CPU index |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['performance']:g} | {row['accessibility']:g} | {row['best-practices']:g} "
                     f"| {row['lcp'] / 1000:.1f} s | {row['fcp'] / 1000:.1f} s | {row['tbt']:.0f} ms "
                     f"| {row['cls']:.3f} | {row['bytes'] / 1024:,.0f} KiB ({row['requests']:g}) "
                     f"| {row['warm_bytes'] / 1024:,.1f} KiB ({row['warm_requests']:g}) | {row['benchmark']:.0f} |")
    return "\n".join(lines)


def server_errors(log: Path, start: int) -> list[str]:
    """The access-log lines with a 5xx status that gunicorn wrote after byte `start` of its log."""
    with log.open("rb") as handle:
        handle.seek(start)
        lines = handle.read().decode(errors="replace").splitlines()
    return [line for line in lines if re.search(r'" 5\d\d ', line)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--instance", type=Path,
                        default=Path(os.environ.get("LIGHTHOUSE_INSTANCE", "/tmp/crm-lighthouse")))
    parser.add_argument("--pages", default="list,customer,dashboard")
    parser.add_argument("--skip-audits", default="",
                        help="Lighthouse audits to skip, comma-separated (uses-text-compression reads every "
                             "uncompressed body: on a loaded machine that can time out)")
    args = parser.parse_args(argv)
    SKIP_AUDITS[:] = [a for a in args.skip_audits.split(",") if a]
    ensure_lighthouse()
    RESULTS.mkdir(parents=True, exist_ok=True)
    prepare(args.instance)
    port = free_port()
    log = args.instance / "gunicorn.log"
    start = log.stat().st_size if log.exists() else 0
    server = serve(args.instance, 2, port, PASSWORD, log)
    print(f"gunicorn's output: {log}", flush=True)
    try:
        base = f"http://127.0.0.1:{port}"
        paths = {"list": ("customers list", "/customers/list/"),
                 "customer": ("customer's page", None),
                 "dashboard": ("dashboard", "/dashboard/")}
        rows = {}
        for key in args.pages.split(","):
            name, path = paths[key]
            path = path or first_customer(base, server.cookie)
            rows[f"{name} (`{path}`)"] = measure(base, path, server.cookie, args.runs, key)
            print(f"{name}: {json.dumps({k: v for k, v in rows[f'{name} (`{path}`)'].items() if k != 'runs'})}",
                  flush=True)
        print()
        print(table(rows, args.runs))
        (RESULTS / "summary.json").write_text(json.dumps(rows, indent=1))
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=30)
        errors = server_errors(log, start)
        print(f"{len(errors)} answers with a 5xx status" + "".join(f"\n  {e}" for e in errors[:20]), flush=True)
        stop_database(args.instance)


if __name__ == "__main__":
    main()
