"""Every screen the first-run crawl reaches has the page skeleton of issue #26, in both languages:
<html lang> in the user's language (en, zh-CN), a <title> of its own ("Customers – CRM", "客户 – CRM"),
a skip link as the first Tab stop leading to <main id=main-content>, the landmarks header (with the
menu's nav) and main, and exactly one <h1>. Read from the HTML over HTTP (no browser): the screens
are those of the axe check (tests/support/a11y.py: screen_plan), each once, plus each role's home,
a 403, the 404 and the login page.
"""
from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterator

import pytest

from tests.support import a11y
from tests.support.a11y import Planned
from tests.support.crawl import LANGUAGES, demo_instance

# FAB's two password forms (one's own, and an admin's for another user) share their title
SAME_TITLE = {frozenset({"/resetmypassword/form", "/resetpassword/form"})}


@pytest.fixture(scope="module")
def plans(pg) -> Iterator[Callable[[str], list[Planned]]]:
    """lang -> the screens and their HTML, crawled once per language for the module."""
    with demo_instance(pg, "crm_skeleton") as instance:
        yield functools.cache(lambda lang: a11y.screen_plan(instance, lang))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_screen_has_lang_title_skip_link_landmarks_and_one_h1(plans, lang: str) -> None:
    plan = plans(lang)
    assert len(plan) > 40, f"the crawl found only {len(plan)} screens"
    problems = [f"{p.role or 'signed out'} {p.url} ({p.status}): {problem}"
                for p in plan for problem in a11y.skeleton_problems(p.html, lang)]
    by_title = defaultdict(set)
    for p in plan:
        if p.status == 200 and p.role in ("Admin", None):
            by_title[a11y.page_title(p.html)].add(p.key.removesuffix("?filtered"))
    problems += [f"{len(keys)} screens share the title {title!r}: {sorted(keys)}" for title, keys in by_title.items()
                 if len(keys) > 1 and frozenset(keys) not in SAME_TITLE]
    assert not problems, "\n".join(problems)


def test_titles_read_as_the_issue_asks(plans) -> None:
    """"Customers – CRM" and "客户 – CRM"; the error and login pages name themselves too."""
    titles = {}
    for lang in LANGUAGES:
        plan = {p.key: p for p in plans(lang)}
        titles[lang] = {key: a11y.page_title(plan[key].html) for key in ("/customers/list/", "/no-such-page-404", "/login/")}
    assert titles["en"]["/customers/list/"] == "Customers" + a11y.TITLE_SUFFIX
    assert titles["zh"]["/customers/list/"] == "客户" + a11y.TITLE_SUFFIX
    assert titles["en"]["/no-such-page-404"] == "Page not found" + a11y.TITLE_SUFFIX
    assert re.fullmatch(r"Sign In – CRM", titles["en"]["/login/"])
    assert titles["zh"]["/login/"] != titles["en"]["/login/"]
