"""Highlighting matches in result text: HTML-escaped, <mark> around what the query matched."""
from __future__ import annotations

import re

from markupsafe import Markup, escape

from app.search.text import CJK_RUN, is_cjk, needs_word_index

SNIPPET = 70  # characters of context either side of the first match in a long text


def terms_pattern(query: str, stems: list[str]) -> re.Pattern | None:
    """A regex for the whole query, its CJK runs, its words, and words starting with its stems."""
    if not query:
        return None
    if needs_word_index(query) and not is_cjk(query):
        # a one- or two-letter query matches words starting with it, not letters inside words
        return re.compile(r"\b" + re.escape(query) + r"\w*", re.IGNORECASE)
    parts = {re.escape(query)}
    parts |= {re.escape(run) for run in CJK_RUN.findall(query)}
    for word in re.findall(r"\w+", query):
        if not CJK_RUN.fullmatch(word) and len(word) >= 2:
            parts.add(r"\b" + re.escape(word))
    for stem in stems:
        if stem and not CJK_RUN.search(stem):
            parts.add(r"\b" + re.escape(stem) + r"\w*")
    return re.compile("|".join(sorted(parts, key=len, reverse=True)), re.IGNORECASE)


def highlight(text: object, pattern: re.Pattern | None, snippet: bool = False) -> Markup | None:
    """`text` escaped, matches wrapped in <mark>; None when `snippet` and nothing matched.

    With `snippet`, a long text is cut to the context around its first match.
    """
    value = "" if text is None else str(text)
    matches = list(pattern.finditer(value)) if pattern else []
    if snippet and not matches:
        return None
    prefix = suffix = ""
    if snippet and len(value) > 2 * SNIPPET:
        start = max(0, matches[0].start() - SNIPPET)
        end = min(len(value), matches[0].end() + SNIPPET)
        prefix, suffix = ("…" if start else ""), ("…" if end < len(value) else "")
        value = value[start:end]
        matches = list(pattern.finditer(value))
    parts, last = [escape(prefix)], 0
    for match in matches:
        if match.end() == match.start():
            continue
        parts += [escape(value[last:match.start()]), Markup("<mark>"), escape(match.group(0)), Markup("</mark>")]
        last = match.end()
    parts += [escape(value[last:]), escape(suffix)]
    return Markup("").join(parts)
