"""How a typed query is read: normalising, CJK detection, LIKE patterns, word queries.

Chinese (and Japanese/Korean) text has no spaces between words. The word index
therefore stores every CJK character as its own token (a "unigram" index, with
positions) and a CJK run in a query becomes a phrase of consecutive characters:
"华为" is searched as 华 followed by 为. This is what lets one- and two-character
Chinese queries use an index, which pg_trgm cannot do for them.
"""
from __future__ import annotations

import re
import unicodedata

MAX_QUERY = 200  # characters; longer input is cut, never an error

# Han (BMP + extension A + compatibility), kana, Hangul syllables. Kept in step
# with crm_cjk_spaced() in migration 0004 (a test compares the two).
CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
CJK_CHAR = re.compile(f"[{CJK_RANGES}]")
CJK_RUN = re.compile(f"[{CJK_RANGES}]+")
TRIGRAM_MIN = 3  # pg_trgm needs a 3-character run to use its index


def normalize(query: str | None) -> str:
    """Trimmed, NFKC-folded (full-width letters become ASCII), control characters removed."""
    text = unicodedata.normalize("NFKC", query or "")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())[:MAX_QUERY]


def is_cjk(text: str) -> bool:
    return bool(text) and all(CJK_CHAR.match(ch) for ch in text)


def has_cjk(text: str) -> bool:
    return bool(CJK_CHAR.search(text))


def needs_word_index(query: str) -> bool:
    """True when a substring search cannot use pg_trgm: a query shorter than a trigram."""
    return len(query) < TRIGRAM_MIN


def like_pattern(query: str) -> str:
    """%query% with LIKE's own wildcards taken literally (escape character: backslash)."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def spaced(text: str) -> str:
    """Every CJK character as its own word, as crm_cjk_spaced() does in the database."""
    return CJK_CHAR.sub(lambda m: f" {m.group(0)} ", text)


def word_query(query: str) -> str:
    """Text for websearch_to_tsquery: each CJK run becomes a quoted phrase of its characters."""
    if not has_cjk(query):
        return query  # websearch syntax as typed: "quoted phrase", or, -not
    return CJK_RUN.sub(lambda m: f' "{spaced(m.group(0))}" ', query.replace('"', " "))


def prefix_query(query: str) -> str:
    """A to_tsquery prefix query for a short Latin/digit query ("ab" -> ab:*), or '' if none."""
    word = re.sub(r"[^\w]", "", query.lower())
    return f"{word}:*" if word else ""
