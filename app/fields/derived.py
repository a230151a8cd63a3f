"""What is worked out from the CRM tables' columns and kept: each cache says so where it is defined.

A cache of something derived from a table's columns (searchable columns, encrypted columns, the
CRM-wide search's statements) registers how it is emptied, at its definition, with
`on_columns_changed`; app/fields/reflect.py calls `forget_derived` whenever it maps or unmaps a
column. So a new cache is cleared because it is defined that way, not because someone remembered
to add it to a list. This module imports nothing of the project: the tables (app/models), the
encryption and the search may all import it without a cycle.
"""
from __future__ import annotations

from typing import Callable, TypeVar

Forget = TypeVar("Forget", bound=Callable[[], None])
Cached = TypeVar("Cached")

FORGETS: list[Callable[[], None]] = []  # in registration order; a few entries, registered at import


def on_columns_changed(forget: Forget) -> Forget:
    """Register `forget` (no arguments) to run when a table's columns change; returns it (a decorator)."""
    if forget not in FORGETS:  # a module imported twice (tests reloading it) registers once
        FORGETS.append(forget)
    return forget


def columns_cache(cached: Cached) -> Cached:
    """Register a `functools.cache`/`lru_cache` function as derived from the columns; returns it (a decorator)."""
    on_columns_changed(cached.cache_clear)  # type: ignore[attr-defined]
    return cached


def forget_derived() -> None:
    """Empty every registered cache: the columns of a table changed."""
    for forget in list(FORGETS):
        forget()
