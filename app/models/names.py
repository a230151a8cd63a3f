"""A person's name in the order of the user's language: family name first in Chinese.

Beside the tables, free of other `app` imports: the models name people with it (`Contact`, `User`).
A name written in Chinese characters is always family name first, without a space
("王晓明"), whatever the language of the page: that is how it is written.
"""
from __future__ import annotations

import re

from flask import g, has_request_context
from flask_babel import get_locale

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
FAMILY_FIRST_LANGUAGES = {"zh", "ja", "ko"}


def family_name_first() -> bool:
    """Whether the request's language writes the family name first."""
    if not has_request_context():
        return False
    # Flask-Babel's choice for this request, when made (a list page names a person per row); else its lookup
    locale = getattr(getattr(g._get_current_object(), "_flask_babel", None), "babel_locale", None) or get_locale()
    return locale is not None and locale.language in FAMILY_FIRST_LANGUAGES


def person_name(first: str | None, last: str | None, family_first: bool | None = None) -> str:
    """'John Brown' in English, 'Brown John' in Chinese; '王晓明' (family name 王) in both."""
    first, last = (first or "").strip(), (last or "").strip()
    if not first or not last:
        return first or last
    if CJK.search(first) and CJK.search(last):
        return last + first
    if family_first is None:
        family_first = family_name_first()
    return f"{last} {first}" if family_first else f"{first} {last}"


def name_splits(text: str) -> list[tuple[str, str]]:
    """(first, last) readings of a typed full name: words in either order, or a Chinese name split
    after a one- or two-character family name ('王晓明' -> ('晓明', '王'), ...)."""
    words = text.split()
    if len(words) >= 2:
        head, tail = words[0], " ".join(words[1:])
        rest, end = " ".join(words[:-1]), words[-1]
        return list(dict.fromkeys([(head, tail), (tail, head), (rest, end), (end, rest)]))
    if len(text) >= 2 and CJK.match(text):
        found = []
        for cut in (1, 2):
            if len(text) > cut:
                found += [(text[cut:], text[:cut]), (text[:len(text) - cut], text[len(text) - cut:])]
        return list(dict.fromkeys(found))
    return []
