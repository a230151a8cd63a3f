"""The body of the two axe modules (tests/browser/test_a11y_en.py, test_a11y_zh.py): one language each,
so pytest-xdist runs them side by side; each has its own prepared instance, server and browser."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.a11y import Planned, audit, screen_plan
from tests.support.browser import LiveServer
from tests.support.crawl import Instance, demo_instance


@dataclass
class Audit:
    instance: Instance
    lang: str
    plan: list[Planned]
    browser: object
    base_url: str

    def of(self, role: str | None) -> list[Planned]:
        return [p for p in self.plan if p.role == role]


def audit_fixture(pg, chromium, lang: str) -> Iterator[Audit]:
    """A demo instance served live, its screen plan in `lang`, and the module's Chromium."""
    with demo_instance(pg, f"crm_a11y_{lang}") as instance:
        plan = screen_plan(instance, lang)
        with LiveServer(instance.app) as live:
            yield Audit(instance, lang, plan, chromium, live.url)


def check_role(run: Audit, role: str | None) -> None:
    """axe finds nothing on the role's planned screens at 1280 px, nor on those planned at 390 px."""
    planned = run.of(role)
    assert planned, f"no screen planned for {role}"
    found = audit(run.browser, run.base_url, run.instance, run.lang, role, planned)
    print(f"{role or 'signed out'}/{run.lang}: {len(planned)} screens, {sum(p.phone for p in planned)} at 390 px too: "
          f"{', '.join(p.url + ' (390)' * p.phone for p in planned)}")
    if found:
        pytest.fail("axe-core (WCAG 2.0/2.1 A and AA) found:\n" + "\n".join(found), pytrace=False)


def check_skip_link(run: Audit) -> None:
    """With the keyboard: the first Tab reaches the skip link, named in the page's language, and
    Enter on it moves the focus to the main content (the list page of a signed-in admin)."""
    from tests.support.browser import Page

    context = run.browser.new_context(viewport={"width": 1280, "height": 800})
    page = Page(context.new_page(), run.base_url)
    try:
        page.login(*run.instance.users["Admin"])
        page.goto(f"/lang/{run.lang}")
        page.goto("/customers/list/")
        page.page.keyboard.press("Tab")
        focused = page.page.evaluate("[document.activeElement.className, document.activeElement.textContent]")
        assert focused == ["crm-skip-link", {"en": "Skip to main content", "zh": "跳到主要内容"}[run.lang]]
        assert page.page.locator(".crm-skip-link").bounding_box()["y"] >= 0, "the focused skip link is off screen"
        page.page.keyboard.press("Enter")
        assert page.page.evaluate("document.activeElement.id") == "main-content"
        assert page.page.evaluate("document.activeElement.tagName") == "MAIN"
    finally:
        context.close()
