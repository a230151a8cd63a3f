"""What a job is, and the intervals an operator may change (CRM_JOB_INTERVALS)."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import NamedTuple

from flask import Flask

RETRY_AT_MOST = timedelta(hours=1)
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
OFF = "off"


class Outcome(NamedTuple):
    """What a job returns when it has more to say than a message: the size of what it wrote."""

    message: str
    size: int | None = None


JobResult = str | Outcome | None


@dataclass(frozen=True)
class Job:
    """One scheduled job. `run(app)` runs inside an app context; raising marks the run failed.

    Jobs of one `group` never run at the same time, on this server or another (one thread and
    one advisory lock per group); a job without a group is a group of its own.
    """

    name: str
    every: timedelta
    run: Callable[[Flask], JobResult]
    group: str | None = None
    first: timedelta = timedelta(0)  # delay of the very first run, when the job is new
    then: tuple[str, ...] = ()  # jobs made due at once when this one succeeds
    retry: timedelta | None = None  # after a failure; default: every, at most an hour
    grace: timedelta | None = None  # set: /health says "overdue" after every + grace without a success

    @property
    def lock_group(self) -> str:
        return self.group or self.name

    @property
    def retry_after(self) -> timedelta:
        return self.retry or min(self.every, RETRY_AT_MOST)


def parse_interval(text: str) -> timedelta:
    """'30s', '15m', '1h', '7d', '2w' as a timedelta."""
    match = INTERVAL.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not an interval: {text!r} (use e.g. 30s, 15m, 1h, 7d)")
    return timedelta(**{UNITS[match.group(2)]: float(match.group(1))})


def parse_intervals(spec: str | Mapping[str, str] | None) -> dict[str, timedelta | None]:
    """'reports=15m,logs-maintain=off' -> {name: interval, or None for off}."""
    if not spec:
        return {}
    pairs = spec.items() if isinstance(spec, Mapping) else (
        item.split("=", 1) if "=" in item else (item, "") for item in spec.split(",") if item.strip())
    found: dict[str, timedelta | None] = {}
    for name, value in pairs:
        name, value = name.strip(), str(value).strip()
        found[name] = None if value.lower() == OFF else parse_interval(value)
    return found


def with_intervals(jobs: list[Job], spec: str | Mapping[str, str] | None) -> list[Job]:
    """The jobs with the operator's intervals; a job set to `off` is left out. Unknown names are refused."""
    changes = parse_intervals(spec)
    unknown = sorted(set(changes) - {j.name for j in jobs})
    if unknown:
        raise ValueError(f"CRM_JOB_INTERVALS names no such job: {', '.join(unknown)} "
                         f"(jobs: {', '.join(j.name for j in jobs)})")
    return [replace(j, every=changes[j.name]) if j.name in changes else j
            for j in jobs if not (j.name in changes and changes[j.name] is None)]
