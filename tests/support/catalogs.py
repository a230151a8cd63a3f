"""The Chinese message catalog as the tests read it: placeholders, and the English words the UI may show."""
from __future__ import annotations

import re

from app.i18n.catalogs import load

PLACEHOLDER = re.compile(r"%\(\w+\)s")


def english_ui_words() -> set[str]:
    """Our English strings (catalog msgids without placeholders), as whole text nodes."""
    words = set()
    for message in load("zh"):
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        if msgid and not PLACEHOLDER.search(msgid) and re.search(r"[A-Za-z]{3}", msgid):
            words.add(msgid)
    # Flask-AppBuilder's own words on these pages (translated by its zh catalog)
    return words | {"List", "Add", "Edit", "Delete", "Show", "Search", "Actions", "Record Count", "Save",
                    "Back", "Add Filter", "Refresh", "Logout", "Profile"}
