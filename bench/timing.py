"""Timing pages through the app's test client: median and p95 of server time."""
from __future__ import annotations

import math
import re
import statistics
import time


def signed_in_client(app, username: str, password: str):
    """A test client signed in through the login form (CSRF token taken from the page)."""
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login/").text).group(1)
    response = client.post("/login/", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, "sign-in failed"
    return client


def time_get(client, path: str, runs: int) -> tuple[float, float]:
    """(median, p95) in milliseconds of `runs` GETs of `path`, each answered 200."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        status = client.get(path).status_code
        times.append((time.perf_counter() - start) * 1000)
        assert status == 200, (path, status)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


class Statements:
    """The SQL statements of the requests made while `recording` (count them, find the slowest)."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.recording = False
        self.seen: list[tuple[float, str, object]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, _conn, _cursor, _statement, _parameters, context, _many) -> None:
        context._bench_started = time.perf_counter()

    def _after(self, _conn, _cursor, statement, parameters, context, _many) -> None:
        if self.recording:
            self.seen.append(((time.perf_counter() - context._bench_started) * 1000, statement, parameters))

    def of(self, client, url: str) -> tuple[int, tuple[float, str, object] | None]:
        self.seen, self.recording = [], True
        try:
            client.get(url)
        finally:
            self.recording = False
        return len(self.seen), max(self.seen, default=None, key=lambda s: s[0])
