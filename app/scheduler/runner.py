"""Runs due jobs: one thread per job group in this process, one advisory lock per group across servers.

A job runs when its `next_due` has passed. Before running, the runner takes the group's
PostgreSQL advisory lock on a connection of its own (held for the run) and reads the row
again: another server that ran the job meanwhile has moved `next_due`, so two runners on one
database never run a job twice. After a run, `next_due` is the end of the run plus the
interval (a retry delay after a failure); a run missed while the app was down is simply due
at the next start. A run cut short (Ctrl-C, a kill) leaves `next_due` alone, so it runs again.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable

from flask import Flask
from sqlalchemy import text

from app.extensions import db
from app.scheduler import state
from app.scheduler.jobs import Job, Outcome

log = logging.getLogger(__name__)
# a job due more often than this (webhook delivery, every 5 s) logs its runs at DEBUG: its state is in
# scheduled_jobs and a failure is still logged, but every run at INFO would drown the console
FREQUENT = dt.timedelta(minutes=1)

LOCK_CLASS = 0x4A4F4253  # "JOBS": the first key of pg_try_advisory_lock(int, int)
POLL = 30.0  # seconds: how often an idle group looks at the table (another server may have changed it)
SHORTEST_WAIT = 0.05
ERROR_WAIT = 10.0


def lock_key(group: str) -> int:
    """The group's second advisory-lock key (a signed 32-bit int)."""
    return zlib.crc32(group.encode()) - 2**31


def groups(jobs: list[Job]) -> dict[str, list[Job]]:
    found: dict[str, list[Job]] = {}
    for job in jobs:
        found.setdefault(job.lock_group, []).append(job)
    return found


class Runner:
    """The scheduler of one process. `clock` returns naive UTC (tests move it)."""

    def __init__(self, app: Flask, jobs: list[Job], clock: Callable[[], dt.datetime] = state.utcnow,
                 poll: float = POLL) -> None:
        self.app, self.jobs, self.clock, self.poll = app, jobs, clock, poll
        self.by_name = {j.name: j for j in jobs}
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.current: dict[str, str] = {}  # group -> job running now

    # ------------------------------------------------------------------ one pass
    def run_due(self, jobs: list[Job]) -> list[str]:
        """Run every due job of one group once, in catalogue order; returns the names run here."""
        ran: list[str] = []
        seen: set[str] = set()  # each job at most once per pass, run here or by another runner
        with self.app.app_context():
            try:
                state.ensure_rows(jobs, self.clock())
                while not self.stopping.is_set():
                    rows = state.rows()
                    now = self.clock()
                    due = [j for j in jobs if j.name not in seen and j.name in rows and rows[j.name].next_due <= now]
                    if not due:
                        break
                    seen.add(due[0].name)
                    if self.try_run(due[0]):
                        ran.append(due[0].name)
            finally:
                db.session.remove()
        return ran

    def run_once(self) -> list[str]:
        """Every group's due jobs, one group after the other (`crm scheduler run --once`, tests)."""
        return [name for jobs in groups(self.jobs).values() for name in self.run_due(jobs)]

    def try_run(self, job: Job) -> bool:
        """Run `job` if this runner gets its group's lock and it is still due; True when it ran here."""
        key = lock_key(job.lock_group)
        with db.engine.connect() as lock:
            lock = lock.execution_options(isolation_level="AUTOCOMMIT")
            if not lock.scalar(text("SELECT pg_try_advisory_lock(:c, :k)"), {"c": LOCK_CLASS, "k": key}):
                return False
            try:
                row = state.get(job.name)
                started = self.clock()
                if row is None or row.next_due > started or self.stopping.is_set():
                    return False  # run by another server since we looked
                if row.last_status == state.RUNNING:
                    log.warning("job %s: the run started %s by %s never finished (stopped or killed); "
                                "running it again", job.name, row.last_started, row.last_runner)
                self._run(job, started)
                return True
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:c, :k)"), {"c": LOCK_CLASS, "k": key})

    def _run(self, job: Job, started: dt.datetime) -> None:
        state.mark_started(job.name, started, self.name)
        self.current[job.lock_group] = job.name
        level = logging.DEBUG if job.every < FREQUENT else logging.INFO
        log.log(level, "job %s started", job.name)
        clock = time.monotonic()
        status, size, message = state.OK, None, None
        try:
            result = job.run(self.app)
            message, size = (result.message, result.size) if isinstance(result, Outcome) else (result, None)
        except Exception as exc:
            db.session.rollback()
            status, message = state.FAILED, (str(exc) or type(exc).__name__).strip()
            log.exception("job %s failed", job.name)
        finally:
            self.current.pop(job.lock_group, None)
        duration = round(time.monotonic() - clock, 3)
        finished = self.clock()
        if status == state.FAILED and self.stopping.is_set():
            status, message = state.INTERRUPTED, f"stopped while running ({message}); runs again at the next start"
        next_due = {state.OK: finished + job.every, state.FAILED: finished + job.retry_after}.get(status)
        state.mark_finished(job.name, status=status, message=message, started=started, finished=finished,
                            duration=duration, size=size, next_due=next_due)
        if status == state.OK:
            state.make_due(tuple(n for n in job.then if n in self.by_name), finished)
        log.log(level if status == state.OK else logging.INFO, "job %s %s in %.1fs: %s", job.name, status,
                duration, message or "")

    # ------------------------------------------------------------------ background
    def start(self) -> None:
        for group, jobs in groups(self.jobs).items():
            thread = threading.Thread(target=self._loop, args=(jobs,), name=f"scheduler-{group}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def _loop(self, jobs: list[Job]) -> None:
        while not self.stopping.is_set():
            try:
                self.run_due(jobs)
                wait = self._seconds_to_next(jobs)
            except Exception:
                log.exception("scheduler: %s", ", ".join(j.name for j in jobs))
                wait = ERROR_WAIT
            self.stopping.wait(wait)

    def _seconds_to_next(self, jobs: list[Job]) -> float:
        with self.app.app_context():
            try:
                rows = state.rows()
            finally:
                db.session.remove()
        names = {j.name for j in jobs}
        dues = [r.next_due for n, r in rows.items() if n in names]
        if not dues:
            return self.poll
        seconds = (min(dues) - self.clock()).total_seconds()
        return min(max(seconds, SHORTEST_WAIT), self.poll)

    def stop(self, timeout: float = 10.0) -> list[str]:
        """Stop the threads; a job still running after `timeout` is marked interrupted. Returns those jobs."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = list(self.current.values())
        if left:
            with self.app.app_context():
                try:
                    for name in left:
                        state.mark_interrupted(name, "stopped while running; runs again at the next start")
                finally:
                    db.session.remove()
        return left
