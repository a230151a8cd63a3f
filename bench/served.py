"""The bench instance served by gunicorn (`crm serve`'s options): timed GETs and a throughput run."""
from __future__ import annotations

import http.client
import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.timing import percentile

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 30  # gunicorn's default worker timeout: a slower page never reaches a user


@dataclass
class Server:
    """gunicorn serving the bench instance, and a signed-in user's cookie (the admin's unless told)."""

    port: int
    cookie: str
    proc: subprocess.Popen
    workers: int = 1

    def get(self, url: str) -> tuple[str, float]:
        """(HTTP status or 'timeout', milliseconds)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT_S + 5)
        begun = time.perf_counter()
        try:
            conn.request("GET", url, headers={"Cookie": self.cookie})
            response = conn.getresponse()
            response.read()
            status = str(response.status)
        except (OSError, http.client.HTTPException):
            status = "timeout"
        finally:
            conn.close()
        return status, (time.perf_counter() - begun) * 1000


def _session_cookie(base: str, password: str, username: str = "admin") -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login/").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token}).encode()
    opener.open(f"{base}/login/", data=data).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def _worker_rss(master_pid: int) -> list[int]:
    """Resident memory (bytes) of each gunicorn worker."""
    import psutil

    return [child.memory_info().rss for child in psutil.Process(master_pid).children()]


def _cpu_seconds(master_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the gunicorn workers and by PostgreSQL's processes (the machine's two users)."""
    import psutil

    used = {"gunicorn": 0.0, "postgres": 0.0}
    for process in psutil.Process(master_pid).children():
        try:
            times = process.cpu_times()
            used["gunicorn"] += times.user + times.system
        except psutil.Error:
            pass
    for process in psutil.process_iter(["name"]):
        try:
            if process.info["name"] == "postgres":
                times = process.cpu_times()
                used["postgres"] += times.user + times.system
        except psutil.Error:
            pass
    return used


def serve(instance: Path, workers: int, port: int, password: str, log: Path | None = None,
          username: str = "admin") -> Server:
    """gunicorn with `crm serve`'s options on the instance, and `username` (the admin) signed in.

    Its access and error log go to `log` (default: gunicorn.log in the instance) so that a 500 or 503
    seen by a bench can be traced to its cause.
    """
    env = {**os.environ, "CRM_INSTANCE_DIR": str(instance)}
    # `crm serve`'s gunicorn command line (app/ops/cli.py), on a port of our own
    cmd = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
           "--access-logfile", "-", "--graceful-timeout", "10", "--timeout", str(TIMEOUT_S),
           "--no-control-socket", "run:app"]
    log = log or instance / "gunicorn.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if urllib.request.urlopen(f"{base}/health", timeout=5).status == 200:
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.terminate()
                raise RuntimeError(f"gunicorn did not come up (see {log})") from None
            time.sleep(0.5)
    return Server(port, _session_cookie(base, password, username), proc, workers)


def throughput(server: Server, workers: int, seconds: float, clients: int, path: str = "/customers/list/") -> dict:
    """Requests per second, latency, CPU and memory of `clients` concurrent clients for `seconds`."""
    port, cookie, proc = server.port, server.cookie, server.proc
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    measuring = threading.Event()
    stop = threading.Event()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while not stop.is_set():
            begun = time.perf_counter()
            conn.request("GET", path, headers={"Cookie": cookie})
            response = conn.getresponse()
            response.read()
            if measuring.is_set():
                with lock:
                    latencies.append((time.perf_counter() - begun) * 1000)
                    statuses[response.status] = statuses.get(response.status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(5)  # warm-up: every worker has built its app and its connections
    cpu_before = _cpu_seconds(proc.pid)
    measuring.set()
    begun = time.monotonic()
    time.sleep(seconds)
    measuring.clear()
    elapsed = time.monotonic() - begun
    cpu = {k: v - cpu_before.get(k, 0.0) for k, v in _cpu_seconds(proc.pid).items()}
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    rss = _worker_rss(proc.pid)
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "statuses": statuses, "cpu": cpu,
            "median": statistics.median(latencies), "p95": percentile(latencies, 95), "rss": rss,
            "seconds": elapsed, "workers": workers, "clients": clients, "path": path}
