"""Keyboard paths (issue 26, point 3) pressed key by key in headless Chromium, in both languages.

One prepared instance (the demo data, as `make run` loads it, report snapshots included) and one
browser for the whole module; each test opens its own signed-in context. The menu by Tab, Enter,
Space, the arrow keys and Escape; "Add filter" giving the focus to the new value field; a pipeline
card moved through its "Move to" menu (the stage changed in the database); every chart named, its
numbers in a table reached by Tab with the chart's drill-down links; a visible focus ring (3:1).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote

import pytest
from sqlalchemy import text

from tests.support.apps import ADMIN_PASSWORD, TEMPLATE, make_app
from tests.support.browser import LiveServer, Page
from tests.support.postgres import Server
from tests.support.users import act_as

pytestmark = pytest.mark.browser
LANGUAGES = ["en", "zh"]

# What the focused element is, where it is, and how its focus ring looks against what is behind it.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) { return null; }
  const style = getComputedStyle(el);
  const parse = c => (c.match(/[\\d.]+/g) || []).map(Number);
  let bg = null;
  for (let node = el.parentElement; node; node = node.parentElement) {
    const c = parse(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) { bg = c.slice(0, 3); break; }
  }
  const lum = c => { const v = c.map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
                     return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const ring = parse(style.outlineColor).slice(0, 3), back = bg || [255, 255, 255];
  const [hi, lo] = [lum(ring), lum(back)].sort((a, b) => b - a);
  return {tag: el.tagName.toLowerCase(), id: el.id, cls: String(el.className), text: el.textContent.trim().slice(0, 60),
          href: el.getAttribute("href"), role: el.getAttribute("role"), label: el.getAttribute("aria-label"),
          inNavbar: !!el.closest(".navbar"), inMenu: !!el.closest(".navbar .dropdown-menu"),
          toggle: el.matches("[data-toggle=dropdown]"), open: !!el.closest(".dropdown.open, .btn-group.open"),
          expanded: el.getAttribute("aria-expanded"), visible: el.getClientRects().length > 0,
          opacity: (() => { let o = 1; for (let n = el; n; n = n.parentElement) { o *= Number(getComputedStyle(n).opacity); } return o; })(),
          outline: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth),
          contrast: (hi + 0.05) / (lo + 0.05)};
}"""


ZH_USER, ZH_PASSWORD = "keys_zh", "Keys-zh-pass-2026!"


@dataclass
class Instance:
    app: object
    live: LiveServer
    browser: object
    sessions: dict = field(default_factory=dict)  # language -> a signed-in context's storage state

    def sql(self, statement: str, **params):
        from app.extensions import db

        with self.app.app_context(), db.engine.begin() as conn:
            act_as(conn, "admin")  # row-level security: the admin sees and writes every record
            result = conn.execute(text(statement), params)
            return result.fetchall() if result.returns_rows else []


@pytest.fixture(scope="module")
def instance(pg: Server, chromium) -> Iterator[Instance]:
    """The demo data (with its report snapshots) on a clone of the template; a live server; the module's
    Chromium.

    Two admins sign in once each: `admin` in English and `keys_zh` in Chinese (users.locale).
    """
    from app.extensions import db
    from app.seed.demo import load_demo_data

    name = f"crm_keys_{os.getpid()}"
    app = make_app(pg, pg.create_database(name, template=TEMPLATE))
    with app.app_context():
        load_demo_data()
        sm = app.appbuilder.sm
        assert sm.add_user(ZH_USER, "Keys", "Zh", "keys_zh@example.com", sm.find_role("Admin"), password=ZH_PASSWORD)
        db.session.remove()
    try:
        with LiveServer(app) as live:
            found = Instance(app, live, chromium)
            found.sql("UPDATE users SET locale = CASE username WHEN :zh THEN 'zh' ELSE 'en' END", zh=ZH_USER)
            for lang, user, password in (("en", "admin", ADMIN_PASSWORD), ("zh", ZH_USER, ZH_PASSWORD)):
                context = found.browser.new_context()
                Page(context.new_page(), live.url).login(user, password)
                found.sessions[lang] = context.storage_state()
                context.close()
            yield found
    finally:
        with app.app_context():
            db.engine.dispose()
        pg.drop_database(name)


@pytest.fixture(params=LANGUAGES)
def page(request: pytest.FixtureRequest, instance: Instance) -> Iterator[Page]:
    """A new context of the module's browser, signed in as the test language's admin."""
    context = instance.browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US",
                                           storage_state=instance.sessions[request.param])
    page = Page(context.new_page(), instance.live.url)
    page.lang = request.param
    try:
        yield page
        page.assert_clean()
    finally:
        context.close()


def focused(page: Page) -> dict | None:
    return page.page.evaluate(FOCUSED)


def press(page: Page, key: str) -> dict | None:
    page.page.keyboard.press(key)
    return focused(page)


def assert_ring(stop: dict) -> None:
    """A focused control shows a solid ring of 2px or more at 3:1 against its background."""
    assert stop["outline"] == "solid" and stop["outlineWidth"] >= 2, f"no visible focus on {stop}"
    assert stop["visible"] and stop["opacity"] > 0.9, f"focus on something hidden: {stop}"
    assert stop["contrast"] >= 3, f"focus ring at {stop['contrast']:.2f}:1 on {stop}"


def start_of_page(page: Page) -> None:
    """The focus at the start of the document, as after loading it: the next Tab is the first stop."""
    page.page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.page.focus("body")  # nothing focusable: the sequential navigation starts at the top


# ---------------------------------------------------------------------------------- the menu
def test_every_menu_entry_is_reached_with_tab_and_dropdowns_open_with_enter(page: Page):
    page.goto("/customers/list/")
    navbar = page.page.locator(".navbar")
    assert navbar.locator('[tabindex="-1"]').count() == 0
    wanted = {a.get_attribute("href") for a in navbar.locator(".navbar-nav a[href]").all()} - {"#"}
    assert len(wanted) >= 18  # the admin's menu: every entry of the left menu and the right one

    start_of_page(page)
    reached, toggles, left_navbar = set(), 0, False
    for _ in range(200):
        stop = press(page, "Tab")
        assert stop is not None, "the focus fell to the page body"
        assert stop["visible"], f"focus on something hidden: {stop}"
        if not stop["inNavbar"]:
            if reached:  # past the menu
                left_navbar = True
                break
            continue
        assert_ring(stop)
        if stop["inMenu"]:
            reached.add(stop["href"])
        elif stop["toggle"]:
            assert stop["expanded"] in (None, "false") and not stop["open"], "the previous menu stayed open"
            toggles += 1
            opened = press(page, "Enter" if toggles % 2 else " ")  # Enter and Space both open it
            assert opened["open"] and opened["expanded"] == "true", stop
        elif stop["href"] not in (None, "#"):
            reached.add(stop["href"])
    assert left_navbar, "Tab never left the top bar"
    assert toggles >= 4
    assert wanted <= reached, f"not reached by Tab: {wanted - reached}"
    assert page.page.locator(".navbar .open").count() == 0  # Tab out of a menu closed it


def test_a_dropdown_works_with_arrow_keys_and_escape_and_enter_opens_an_entry(page: Page):
    page.goto("/")
    toggle = page.page.locator(".navbar-nav:not(.navbar-right) > li.dropdown > a.dropdown-toggle").first
    entries = toggle.locator("xpath=..").locator(".dropdown-menu a[href]")
    toggle.focus()
    opened = press(page, "ArrowDown")  # opens it, the focus stays on the toggle
    assert opened["open"] and opened["toggle"]
    first = press(page, "ArrowDown")
    assert first["inMenu"] and first["href"] == entries.nth(0).get_attribute("href")
    second = press(page, "ArrowDown")
    assert second["href"] == entries.nth(1).get_attribute("href")
    assert press(page, "ArrowUp")["href"] == first["href"]
    closed = press(page, "Escape")
    assert closed["toggle"] and not closed["open"] and closed["expanded"] == "false"
    assert press(page, "Escape")["toggle"]  # Escape on a closed menu leaves the focus where it is
    assert press(page, "Enter")["open"]
    press(page, "Tab")
    target = press(page, "Tab")  # the second entry, by Tab this time
    assert target["href"] == entries.nth(1).get_attribute("href")
    with page.page.expect_navigation():
        page.page.keyboard.press("Enter")
    assert page.page.url.endswith(target["href"])


# ---------------------------------------------------------------------------------- filters
def test_add_filter_gives_the_focus_to_the_new_value_field(page: Page):
    page.goto("/customers/list/")
    entries = page.page.locator("#filter_form a.filter")
    names = [e.get_attribute("name") for e in entries.all()]
    page.page.locator("a.accordion-toggle").focus()  # the list's collapsed "Search" panel
    page.page.keyboard.press("Enter")
    page.page.locator("#filter_form button.dropdown-toggle").wait_for(state="visible")
    button = press(page, "Tab")
    assert button["toggle"] and button["tag"] == "button", button
    # a text column, a choice column (select2) and a date-time column: each new field takes the focus
    for column, kind in (("revenue_band", "select2-selection"), ("created_at", "input"), ("name", "input")):
        label = entries.nth(names.index(column)).inner_text().strip()
        page.page.locator("#filter_form button.dropdown-toggle").focus()
        assert press(page, "Enter")["open"]
        for _ in range(names.index(column) + 1):
            stop = press(page, "ArrowDown")
        assert stop["text"] == label
        page.page.keyboard.press("Enter")
        # the new row is built after the key's handler returns (a11y.js then moves the focus):
        # wait for the focus to leave the menu entry, or fail after the default timeout
        page.page.wait_for_function("() => !(document.activeElement && document.activeElement.matches('a.filter'))")
        field = focused(page)
        assert field is not None, "the focus fell to the page body"
        row = page.page.locator("#filter_form .filters tr").last
        assert row.locator(".filter_val").get_attribute("aria-label") == label
        if kind == "input":
            assert field["tag"] == "input" and "filter_val" in field["cls"] and field["label"] == label, field
        else:
            assert kind in field["cls"], field
        assert_ring(field)
        if column == "revenue_band":  # select2's box opens from the keyboard; Escape closes it
            page.page.keyboard.press("Enter")
            page.page.wait_for_selector(".select2-container--open .select2-results__option")
            page.page.keyboard.press("Escape")
        elif column == "created_at":
            page.page.keyboard.press("Escape")  # the date picker, if it opened
            row.locator("a.remove-filter").focus()
            page.page.keyboard.press("Enter")  # removed again by keyboard
    assert page.page.locator("#filter_form .filters tr").count() == 2
    page.page.keyboard.type("Acme")
    with page.page.expect_navigation():
        page.page.keyboard.press("Enter")
    assert "name=Acme" in unquote(page.page.url)


# ---------------------------------------------------------------------------------- pipeline
def test_a_pipeline_card_moves_to_another_stage_by_keyboard(page: Page, instance: Instance):
    page.goto("/pipeline/")
    columns = page.page.locator(".crm-board-column")
    stages = [c.get_attribute("data-stage") for c in columns.all()]
    source = columns.nth(0)
    card = source.locator(".crm-card").first
    card_id = int(card.get_attribute("data-id"))
    name = card.locator(".crm-card-name").inner_text().strip()
    before = instance.sql("SELECT stage, version FROM opportunities WHERE opportunity_id = :i", i=card_id)[0]
    assert before.stage == stages[0]

    card.locator(".crm-card-name").focus()
    button = press(page, "Tab")
    assert "crm-move" in button["cls"] and button["expanded"] == "false"
    assert_ring(button)
    first = press(page, "Enter")
    assert first["role"] == "menuitem" and first["text"] == columns.nth(1).get_attribute("aria-label")
    assert_ring(first)
    menu = page.page.locator("#crm-move-menu [role=menuitem]")
    assert menu.count() == len(stages) - 1  # every stage but the card's own
    assert press(page, "ArrowUp")["text"] == columns.nth(len(stages) - 1).get_attribute("aria-label")  # wraps
    back = press(page, "Escape")
    assert "crm-move" in back["cls"] and back["expanded"] == "false"
    assert page.page.locator("#crm-move-menu").count() == 0

    target = 3  # the fourth column, chosen by Space and the arrow keys
    press(page, " ")
    for _ in range(target - 1):
        stop = press(page, "ArrowDown")
    stage_label = columns.nth(target).get_attribute("aria-label")
    assert stop["text"] == stage_label
    page.page.keyboard.press("Enter")
    moved = columns.nth(target).locator(f"#card-{card_id}:not(.crm-saving)")
    moved.wait_for()
    status = page.page.locator("#pipeline-status")
    assert status.get_attribute("aria-live") == "polite"
    page.page.wait_for_function("document.getElementById('pipeline-status').textContent.indexOf('“') >= 0")
    expected = f"“{name}” moved to {stage_label}." if page.lang == "en" else f"“{name}”已移至{stage_label}。"
    assert status.inner_text() == expected
    after = instance.sql("SELECT stage, version FROM opportunities WHERE opportunity_id = :i", i=card_id)[0]
    assert after.stage == stages[target] and after.version == before.version + 1
    assert int(moved.get_attribute("data-version")) == after.version
    stop = focused(page)
    assert "crm-move" in stop["cls"] and page.page.evaluate(
        f"document.activeElement.closest('.crm-card').id === 'card-{card_id}'")  # the focus moved with it
    assert page.page.locator("#pipeline-message").is_hidden()

    # a card someone else changed meanwhile: refused, back in its column, the focus still on its button
    stale = source.locator(".crm-card").first
    stale_id = int(stale.get_attribute("data-id"))
    instance.sql("UPDATE opportunities SET version = version + 1 WHERE opportunity_id = :i", i=stale_id)
    stale.locator(".crm-move").focus()
    press(page, "ArrowDown")  # opens the menu on its first stage
    page.page.keyboard.press("Enter")
    page.page.locator("#pipeline-message").wait_for(state="visible")
    page.page.wait_for_selector(f"section[data-stage='{stages[0]}'] #card-{stale_id}:not(.crm-saving)")
    assert page.page.evaluate(f"document.activeElement.closest('#card-{stale_id}') !== null")
    assert instance.sql("SELECT stage FROM opportunities WHERE opportunity_id = :i", i=stale_id)[0].stage == stages[0]
    assert all("409" in e for e in page.console_errors), page.console_errors  # Chromium logs the refused POST
    page.console_errors.clear()


# ---------------------------------------------------------------------------------- charts
CHARTS_JS = """() => Array.from(document.querySelectorAll('figure.crm-figure')).map(figure => {
  const svg = figure.querySelector('svg.crm-svg');
  const named = id => id.split(' ').map(i => document.getElementById(i).textContent).join(' ');
  return {caption: figure.querySelector('figcaption').textContent, role: svg.getAttribute('role'),
          label: named(svg.getAttribute('aria-labelledby')),
          rows: figure.querySelectorAll('details table tbody tr').length,
          links: Array.from(figure.querySelectorAll('details table a[href]')).map(a => a.getAttribute('href')),
          drill: Array.from(svg.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
          names: Array.from(svg.querySelectorAll('a[href]')).map(a => a.getAttribute('aria-label'))};
})"""


def charts(page: Page, count: int) -> list[dict]:
    """Each chart's caption, its drawing's role and name, the links of its table and of its bars or points."""
    page.assert_charts(count)
    return page.page.evaluate(CHARTS_JS)


def test_every_chart_is_named_its_bars_are_links_reached_by_tab_and_its_numbers_in_a_table(page: Page):
    page.goto("/dashboard/")
    found = charts(page, 7)
    for chart in found:
        assert chart["caption"] and chart["label"] == chart["caption"], chart
        assert chart["role"] == "group" and chart["rows"] > 0  # links inside: a group (an img hides them)
        assert sorted(chart["links"]) == sorted(chart["drill"]), f"{chart['caption']}: the table's links differ"
        assert all(chart["names"]), chart["caption"]
    assert len({c["caption"] for c in found}) == 7 and sum(len(c["drill"]) for c in found) > 50
    first = found[0]["caption"]
    assert first.startswith("Pipeline by stage" if page.lang == "en" else "各阶段销售管道")
    # the browser's accessibility tree agrees: a figure and a group of that name, and named links
    assert page.page.get_by_role("figure", name=first, exact=True).count() == 1
    assert page.page.get_by_role("group", name=first, exact=True).count() == 1
    bar_name = found[0]["names"][0]
    assert page.page.get_by_role("link", name=bar_name, exact=True).count() == 1
    assert ("Initial: " if page.lang == "en" else "初始") in bar_name

    # by keyboard: from the pipeline card's "History" link, Tab reaches each bar (a ring on each), then the
    # CSV and PNG exports and "Show data"; Enter opens it; Tab reaches the first number's link
    report = page.page.locator('[data-report-type="pipeline_by_stage"]')
    history = report.locator(".panel-heading a")
    history.focus()
    for href in found[0]["drill"]:
        stop = press(page, "Tab")
        assert stop["tag"] == "a" and stop["href"] == href and stop["label"], stop
        assert_ring(stop)
    for kind in ("a", "button", "summary"):
        stop = press(page, "Tab")
        assert stop["tag"] == kind, stop
        assert_ring(stop)
    assert stop["text"].startswith("Show data" if page.lang == "en" else "显示数据")
    press(page, "Enter")
    assert report.locator("details").get_attribute("open") is not None
    cell = press(page, "Tab")
    assert cell["tag"] == "a" and cell["href"] == found[0]["drill"][0]
    assert_ring(cell)
    # and the first bar, reached by Tab, opens its list with Enter
    history.focus()
    assert press(page, "Tab")["href"] == found[0]["drill"][0]
    with page.page.expect_navigation():
        page.page.keyboard.press("Enter")
    assert unquote(page.page.url).endswith(unquote(found[0]["drill"][0]))
    assert "/opportunities/list/" in page.page.url


@pytest.mark.parametrize("page", ["en"], indirect=True)  # names in Chinese: the dashboard's test (same code)
def test_a_history_chart_is_named_and_its_data_reached_by_keyboard(page: Page):
    page.goto("/dashboard/history/pipeline_by_stage")
    for chart in charts(page, 2):
        assert chart["caption"] == chart["label"] and chart["role"] == "img"  # no links: an image
        assert chart["rows"] >= 1 and chart["drill"] == []
    assert page.page.get_by_role("img", name=chart["caption"], exact=True).count() == 1
    page.page.locator(".crm-dashboard > p > a").first.focus()
    assert press(page, "Tab")["tag"] == "button"  # the PNG export (no CSV for a history)
    summary = press(page, "Tab")
    assert summary["tag"] == "summary"
    press(page, " ")
    assert page.page.locator("details[open] td").count() >= 1


# ---------------------------------------------------------------------------------- focus ring
# the ring does not depend on the language: one page in Chinese is enough; the dashboard: its own test
@pytest.mark.parametrize(("page", "path"), [("en", "/customers/list/"), ("en", "/customers/add"),
                                            ("en", "/pipeline/"), ("zh", "/customers/list/")], indirect=["page"])
def test_every_control_shows_a_visible_focus_ring(page: Page, path: str):
    page.goto(path)
    start_of_page(page)
    seen = []
    for _ in range(60):
        stop = press(page, "Tab")
        if stop is None or (seen and stop == seen[0]):
            break
        assert stop["visible"], f"focus on something hidden: {stop}"
        assert_ring(stop)
        seen.append(stop)
    kinds = {s["tag"] for s in seen}
    assert len(seen) >= 10 and {"a", "button"} <= kinds, (kinds, seen[-1], stop)
