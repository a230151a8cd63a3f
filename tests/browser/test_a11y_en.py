"""axe-core 4.14 (its npm package, tests/support/axe) finds no WCAG 2.0/2.1 A or AA violation on any
screen the first-run crawl reaches, in English, at 1280 px, for every default role; at 390 px too for
each role's first screen of each set of templates (a list, a show page, a form, the dashboard...).

Each distinct screen is checked once (by the admin, who reaches them all); every other role adds its
home page with its own menu and what only it reaches; a 403 page, the 404 page and the login page
are among the screens. The same checks in the other language: test_a11y_zh.py.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.a11y_module import Audit, audit_fixture, check_role, check_skip_link
from tests.support.crawl import ROLES

pytestmark = pytest.mark.browser
LANG = "en"


@pytest.fixture(scope="module")
def run(pg, chromium, request) -> Iterator[Audit]:
    yield from audit_fixture(pg, chromium, request.module.LANG)  # test_a11y_zh.py imports this module's tests


@pytest.mark.parametrize("role", [*ROLES, None], ids=[*ROLES, "signed-out"])
def test_no_axe_violation_on_any_screen(run: Audit, role: str | None) -> None:
    check_role(run, role)


def test_the_skip_link_is_the_first_tab_stop_and_leads_to_the_main_content(run: Audit) -> None:
    check_skip_link(run)
