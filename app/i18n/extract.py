"""A Babel extraction method for the texts derived from the models (labels, titles, values).

babel.cfg maps it onto app/models/crm.py; it yields the same (context, msgid)
pairs the screens ask the catalog for at run time.
"""
from __future__ import annotations

from typing import Iterator


def extract_model_texts(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    from app.i18n.labels import model_messages
    from app.i18n.models import TRANSLATED_MODELS

    for context, msgid in model_messages(TRANSLATED_MODELS):
        if context is None:
            yield 1, "gettext", msgid, []
        else:
            yield 1, "pgettext", (context, msgid), []
