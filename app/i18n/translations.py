"""This request's translations, looked up once: the templates' `_()` and the hot loops' gettext.

Flask-Babel finds the request's domain, locale and translations through `flask.g` on every
gettext call (a dozen context-local lookups); a list page makes a few hundred calls. The
translations found are kept on Flask-Babel's own per-request namespace under the name its
`refresh()` and `force_locale()` reset (`babel_translations`), so a language switch in the
middle of a request is seen at the next call, as with Flask-Babel's own functions.
"""
from __future__ import annotations

from typing import Any

from babel.support import NullTranslations
from flask import Flask, g
from flask_babel import Domain, LazyString, get_babel, get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup


def babel_space() -> Any:
    """Flask-Babel's per-request namespace (`g._flask_babel`), or None before its first use or outside a context.

    `g`'s object is fetched once (Flask's documented `_get_current_object`): each `g.x` through the
    proxy costs a few calls, and a list page asks a few hundred times.
    """
    try:
        space = g._get_current_object()
    except RuntimeError:  # outside an app context
        return None
    return getattr(space, "_flask_babel", None)


class RequestDomain(Domain):
    """Flask-Babel's default domain, its translations looked up once per request.

    Flask-Babel's own `gettext` and lazy strings (FAB's labels) ask the domain for the
    translations on every call, finding the locale and its catalog through `g` each time.
    """

    def get_translations(self) -> NullTranslations:
        found = getattr(babel_space(), "babel_translations", None)
        if found is None:
            found = super().get_translations()
            space = babel_space()  # created by that call
            if space is not None:
                space.babel_translations = found
        return found


def translations() -> NullTranslations:
    """The current request's (or app context's) translations."""
    found = getattr(babel_space(), "babel_translations", None)
    return found if found is not None else get_translations()  # through the domain, which keeps them


def gettext(string: str, **variables: Any) -> str:
    """flask_babel.gettext, with the translations looked up once per request."""
    text = translations().ugettext(string)
    return text % variables if variables else text


def pgettext(context: str, string: str, **variables: Any) -> str:
    """flask_babel.pgettext, with the translations looked up once per request."""
    text = translations().upgettext(context, string)
    return text % variables if variables else text


def lazy_gettext(string: str, **variables: Any) -> LazyString:
    """flask_babel.lazy_gettext, translated by `gettext` above when used."""
    return LazyString(gettext, string, **variables)


def lazy_pgettext(context: str, string: str, **variables: Any) -> LazyString:
    """flask_babel.lazy_pgettext, translated by `pgettext` above when used (labels: a list page shows dozens)."""
    return LazyString(pgettext, context, string, **variables)


SAFE_TEXTS_MAX = 5000  # a template's `_()` texts are a few hundred; a variable's never fill the process


def _safe_texts(found: NullTranslations) -> dict[str, Markup]:
    """A language's catalog's translations already made Markup (kept on the catalog, which lives as long as it)."""
    try:
        return found.__dict__["_crm_safe_texts"]
    except KeyError:
        found.__dict__["_crm_safe_texts"] = texts = {}
        return texts


@pass_context
def template_gettext(context: Context, string: str, **variables: Any) -> str:
    """The templates' `_()`: Jinja's new-style gettext, called directly.

    Jinja's `_` resolves `gettext` in the template's context and calls it through two
    `Context.call`s; a list page calls `_()` about fifty times. The result is the same: the
    translation, marked safe where the template autoescapes, always formatted with `variables`.
    A catalog's safe texts are made once per process (a Markup each, about fifty a page).
    """
    found = translations()
    if context.eval_ctx.autoescape:
        known = _safe_texts(found)
        text = known.get(string)
        if text is None:
            text = Markup(found.ugettext(string))
            if string.__class__ is str and len(known) < SAFE_TEXTS_MAX:  # not a lazy string, whose text moves
                known[string] = text
    else:
        text = found.ugettext(string)
    # without a "%" formatting changes nothing: most calls skip Markup's escaping formatter
    return text % variables if variables or "%" in text else text


def init_translations(app: Flask) -> None:
    """The templates' gettext functions (Flask-Babel installed its own, which look the translations up each time)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True)
    app.jinja_env.globals["_"] = template_gettext  # no template or view defines its own `gettext`
    babel = get_babel(app).instance
    babel.domain_instance = RequestDomain(domain=babel.domain)  # Flask-Babel's default: a cached property
