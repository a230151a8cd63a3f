"""The job scheduler on a real database: due and not due, catch-up, one run across runners, failures."""
from __future__ import annotations

import datetime as dt
import threading
import time
from datetime import timedelta

import pytest

from app.scheduler.catalog import JOBS, jobs_for, scheduler_enabled
from app.scheduler.jobs import Job, Outcome, parse_interval, with_intervals
from app.scheduler.runner import Runner

T0 = dt.datetime(2026, 12, 1, 2, 30)


class Clock:
    """A clock the test moves by hand (naive UTC, as the table stores)."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def counting(calls: list[str], name: str, result=None, pause: float = 0.0):
    def run(app):
        calls.append(name)
        time.sleep(pause)
        return result
    return run


def job_rows(sql) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in sql("SELECT name, last_status, next_due, last_message, last_size, last_finished "
                                     "FROM scheduled_jobs")}


def test_due_jobs_run_not_due_ones_wait_and_next_due_follows_the_interval(app, sql):
    calls: list[str] = []
    clock = Clock()
    jobs = [Job("often", every=timedelta(seconds=5), run=counting(calls, "often", Outcome("sent 3", 1234))),
            Job("daily", every=timedelta(days=1), run=counting(calls, "daily", "done"), first=timedelta(days=1))]
    runner = Runner(app, jobs, clock=clock)
    assert runner.run_once() == ["often"]  # "daily" is new: its first run is a day away
    rows = job_rows(sql)
    assert rows["often"][:4] == ("ok", T0 + timedelta(seconds=5), "sent 3", 1234)
    assert rows["daily"][0] is None and rows["daily"][1] == T0 + timedelta(days=1)
    clock.now = T0 + timedelta(seconds=4)
    assert runner.run_once() == []  # nothing due yet
    clock.now = T0 + timedelta(seconds=5)
    assert runner.run_once() == ["often"]
    clock.now = T0 + timedelta(days=1)
    assert runner.run_once() == ["often", "daily"]
    assert calls == ["often", "often", "often", "daily"]


def test_a_run_missed_while_the_app_was_down_runs_once_at_the_next_start(app, sql):
    calls: list[str] = []
    jobs = [Job("backup", every=timedelta(days=1), run=counting(calls, "backup"))]
    sql("INSERT INTO scheduled_jobs (name, next_due, last_status, last_success) VALUES "
        "('backup', :due, 'ok', :due - interval '1 day')", due=T0 - timedelta(days=3))
    clock = Clock(T0)  # "started" three days after the run it missed
    assert Runner(app, jobs, clock=clock).run_once() == ["backup"]
    assert Runner(app, jobs, clock=clock).run_once() == []  # caught up once, not three times
    assert calls == ["backup"] and job_rows(sql)["backup"][1] == T0 + timedelta(days=1)


def test_a_failed_run_is_recorded_retried_sooner_and_then_triggers_nothing(app, sql):
    def broken(app):
        raise OSError(28, "No space left on device")

    calls: list[str] = []
    jobs = [Job("backup", every=timedelta(days=1), run=broken, then=("drill",)),
            Job("drill", every=timedelta(days=1), run=counting(calls, "drill"), first=timedelta(days=1))]
    clock = Clock()
    assert Runner(app, jobs, clock=clock).run_once() == ["backup"]
    status, next_due, message, *_ = job_rows(sql)["backup"]
    assert status == "failed" and "No space left on device" in message
    assert next_due == T0 + timedelta(hours=1)  # retried within the hour, not tomorrow
    assert calls == []  # the drill follows a backup only when it succeeded


def test_then_makes_the_follow_up_job_due_in_the_same_pass(app, sql):
    calls: list[str] = []
    jobs = [Job("backup", every=timedelta(days=7), run=counting(calls, "backup"), group="b", then=("drill",)),
            Job("drill", every=timedelta(days=1), run=counting(calls, "drill"), group="b",
                first=timedelta(days=1))]
    assert Runner(app, jobs, clock=Clock()).run_once() == ["backup", "drill"]
    assert calls == ["backup", "drill"]


def test_two_runners_on_one_database_never_run_a_job_twice(app, sql):
    """Two runners (two threads, two connections: as two app servers) wake at the same moment."""
    calls: list[str] = []
    lock = threading.Lock()

    def slow(app):
        with lock:
            calls.append(threading.current_thread().name)
        time.sleep(0.5)  # long enough for the other runner to reach the lock while this one holds it
        return "ran"

    jobs = [Job("backup", every=timedelta(days=1), run=slow)]
    clock = Clock()
    runners = [Runner(app, jobs, clock=clock) for _ in range(2)]
    Runner(app, [], clock=clock).run_once()
    ran: dict[int, list[str]] = {}
    barrier = threading.Barrier(2)

    def go(i: int) -> None:
        barrier.wait()
        ran[i] = runners[i].run_once()

    threads = [threading.Thread(target=go, args=(i,), name=f"server-{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(calls) == 1, calls
    assert sorted(len(r) for r in ran.values()) == [0, 1]
    # later, both runners again: still once per interval
    clock.now = T0 + timedelta(days=1, seconds=1)
    assert len(runners[0].run_once() + runners[1].run_once()) == 1 and len(calls) == 2


def test_background_threads_run_a_five_second_job_and_stop_cleanly(app, sql):
    """The loop sleeps until the next due time, so short intervals work; stop() ends it."""
    calls: list[str] = []
    jobs = [Job("webhooks", every=timedelta(seconds=0.2), run=counting(calls, "webhooks")),
            Job("slow", every=timedelta(days=1), run=counting(calls, "slow", pause=0.1))]
    runner = Runner(app, jobs)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while calls.count("webhooks") < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        assert runner.stop(timeout=5) == []
    assert calls.count("webhooks") >= 4 and calls.count("slow") == 1
    assert not any(t.is_alive() for t in runner.threads)


def test_a_run_cut_short_is_marked_interrupted_and_runs_again(app, sql):
    started = threading.Event()

    def long_job(app):
        started.set()
        time.sleep(3)
        raise RuntimeError("pg_basebackup failed (exit -15)")  # what a stopped tool reports

    jobs = [Job("backup", every=timedelta(days=1), run=long_job)]
    runner = Runner(app, jobs)
    runner.start()
    assert started.wait(10)
    assert runner.stop(timeout=0.2) == ["backup"]
    status, next_due, message, *_ = job_rows(sql)["backup"]
    assert status == "interrupted" and "runs again at the next start" in message
    time.sleep(3.5)  # the thread ends its job: a failure while stopping stays "interrupted"
    status, next_due_after, *_ = job_rows(sql)["backup"]
    assert status == "interrupted" and next_due_after == next_due <= dt.datetime.now(dt.UTC).replace(tzinfo=None)


def test_intervals_are_configurable_and_the_scheduler_follows_crm_scheduler(monkeypatch):
    from config import from_environment

    assert parse_interval("5s") == timedelta(seconds=5) and parse_interval("7d") == timedelta(days=7)
    with pytest.raises(ValueError):
        parse_interval("soon")
    changed = with_intervals(JOBS, "reports=15m,logs-maintain=off")
    assert {j.name: j.every for j in changed}["reports"] == timedelta(minutes=15)
    assert "logs-maintain" not in {j.name for j in changed}
    with pytest.raises(ValueError, match="no such job"):
        with_intervals(JOBS, "nope=1h")
    assert [j.name for j in jobs_for({})] == ["backup-full", "backup-incremental", "restore-drill",
                                              "backup-retention", "logs-maintain", "reports", "webhooks",
                                              "bulk-jobs"]
    assert {j.name: j.every for j in jobs_for({})}["reports"] == timedelta(hours=1)
    assert scheduler_enabled(from_environment({}))  # embedded database: on
    assert not scheduler_enabled(from_environment({"CRM_SCHEDULER": "0"}))
    assert not scheduler_enabled(from_environment({"DATABASE_URL": "postgresql://x/y"}))
    assert scheduler_enabled(from_environment({"DATABASE_URL": "postgresql://x/y", "CRM_SCHEDULER": "1"}))


def test_crm_scheduler_0_starts_no_scheduler(app, capsys):
    from app.ops.cli import start_scheduler

    app.config["SCHEDULER"] = False
    assert start_scheduler(app) is None
    assert "Scheduler off" in capsys.readouterr().out
