"""Rendered HTML kept per process: made once per key, reused while the key is the same.

The key names everything a fragment depends on (a permission set, a screen, a language), so
a kept fragment cannot go stale, and nothing here is state another app server would need.
The one per-request part, a script's CSP nonce, is kept as a placeholder and filled in on use.
"""
from __future__ import annotations

from typing import Callable, Generic, Hashable, TypeVar

from app.web.headers import render_reusable, with_nonce

T = TypeVar("T")


class Fragments(Generic[T]):
    """A bounded store of rendered fragments: past `max_entries` keys it starts over."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._kept: dict[Hashable, T] = {}

    def get(self, key: Hashable, render: Callable[[], T]) -> T:
        found = self._kept.get(key)
        if found is None:
            if len(self._kept) >= self.max_entries:
                self._kept.clear()
            found = self._kept[key] = render_reusable(render)
        return with_nonce(found)
