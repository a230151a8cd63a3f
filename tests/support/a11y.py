"""axe-core in a Playwright page: run the WCAG 2.0/2.1 A and AA rules and say what they found.

axe-core comes from its npm package, pinned in tests/support/axe/package-lock.json and installed by
`make test-deps` (`npm ci`), never from a CDN. It is added to every page of a browser context as an
init script, which the page's Content-Security-Policy does not apply to: the pages keep their CSP.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from tests.support import crawl

AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
RUN = """tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
  .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))})))"""


def axe_source() -> Path:
    """The installed axe.min.js, or a clear failure that says how to install it."""
    assert AXE_JS.exists(), f"axe-core is not installed: run `make test-deps` (npm ci in {AXE_DIR})"
    return AXE_JS


def add_axe(context) -> None:
    """Every page of this Playwright context gets `window.axe`."""
    context.add_init_script(path=str(axe_source()))


def violations(page) -> list[dict]:
    """axe's WCAG 2.0/2.1 A and AA violations on the page as it is now."""
    page.wait_for_load_state("load")
    # scripts that tidy widgets after a redraw do it on the next animation frame (app/static/a11y.js)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return page.evaluate(RUN, WCAG_TAGS)


def describe(where: str, found: list[dict], nodes_shown: int = 5) -> list[str]:
    """Readable lines: the rule, its impact and help, and the first nodes with axe's summary."""
    lines = []
    for v in found:
        lines.append(f"{where}: {v['id']} ({v['impact']}) {v['help']} – {len(v['nodes'])} node(s)")
        for node in v["nodes"][:nodes_shown]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"    {node['target']}: {summary[:300]}")
    return lines


# --- the page skeleton, read from the HTML (no browser) ----------------------------------------

HTML_LANGS = {"en": "en", "zh": "zh-CN"}
TITLE_SUFFIX = " – CRM"
FOCUSABLE = {"a": "href", "button": None, "select": None, "textarea": None, "input": None}


class Skeleton(HTMLParser):
    """What WCAG's page-level rules look at: lang, title, the first Tab stop, landmarks, the h1s."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.title = ""
        self.first_stop: dict[str, str] | None = None
        self.count: Counter = Counter()
        self.ids: set[str] = set()
        self.bad_roles: list[str] = []
        self.nav_in_header = False
        self._open: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang")
        self._in_title = tag == "title" and "svg" not in self._open  # the page's, not a chart's
        if a.get("id"):
            self.ids.add(a["id"])
        if tag in ("h1", "main", "header", "nav"):
            self.count[tag] += 1
        if tag == "nav" and "header" in self._open:
            self.nav_in_header = True
        if a.get("role") in ("header",):
            self.bad_roles.append(f'<{tag} role="{a["role"]}">')
        if self.first_stop is None and "body" in self._open and self._tab_stop(tag, a):
            self.first_stop = {"tag": tag, **a}
        if tag not in ("input", "img", "br", "hr", "meta", "link", "col", "wbr"):
            self._open.append(tag)

    @staticmethod
    def _tab_stop(tag: str, a: dict[str, str]) -> bool:
        if a.get("tabindex", "").lstrip("-").isdigit() and int(a["tabindex"]) < 0:
            return False
        if "hidden" in a or a.get("type") == "hidden" or "disabled" in a:
            return False
        if tag in FOCUSABLE:
            return FOCUSABLE[tag] is None or FOCUSABLE[tag] in a
        return a.get("tabindex", "").isdigit()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            while self._open and self._open.pop() != tag:
                pass
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def skeleton_problems(page: str, lang: str) -> list[str]:
    """What the page lacks of issue #26's skeleton: <html lang>, its own <title>, a skip link as the
    first Tab stop to <main>, the landmarks header > nav and main, exactly one <h1>."""
    s = Skeleton()
    s.feed(page)
    problems = []
    if s.lang != HTML_LANGS[lang]:
        problems.append(f"<html lang={s.lang!r}>, not {HTML_LANGS[lang]!r}")
    title = " ".join(s.title.split())
    if not title.endswith(TITLE_SUFFIX) or not title[: -len(TITLE_SUFFIX)].strip():
        problems.append(f"<title>{title}</title> does not name the page (\"Customers – CRM\")")
    stop = s.first_stop or {}
    target = stop.get("href", "")[1:] if stop.get("href", "").startswith("#") else ""
    if stop.get("tag") != "a" or "crm-skip-link" not in stop.get("class", "") or not target:
        problems.append(f"the first Tab stop is {stop or 'nothing'}, not the skip link")
    elif target != "main-content" or "main-content" not in s.ids:
        problems.append(f"the skip link leads to #{target}, not to <main id=main-content>")
    for tag in ("header", "nav", "main"):
        if s.count[tag] != 1:
            problems.append(f"{s.count[tag]} <{tag}> landmarks (one expected)")
    if s.count["header"] and not s.nav_in_header:
        problems.append("the menu's <nav> is not in the <header>")
    if s.count["h1"] != 1:
        problems.append(f"{s.count['h1']} <h1> (exactly one expected)")
    problems += [f"invalid ARIA role: {r}" for r in s.bad_roles]
    return problems


def page_title(page: str) -> str:
    s = Skeleton()
    s.feed(page)
    return " ".join(s.title.split())


# --- which screens: each distinct one once per language, plus each role's home (its menu) -------

NOT_FOUND = "/no-such-page-404"
FORBIDDEN = "/users/list/"  # an admin screen: 403 for every other default role
ONE_HISTORY = 1  # the dashboard's history pages share one template: the first report type's only


@dataclass
class Planned:
    role: str | None  # None: signed out
    key: str
    url: str
    status: int
    html: str
    phone: bool = True  # checked at 390 px too: the role's first screen made of these templates


def narrow_once(plan: list[Planned], pages: list[crawl.ScreenPage]) -> None:
    """At 390 px, each role's first screen of each set of templates (a list, a show page, a form, the
    dashboard, the board...): the width changes the layout, which the templates make; 1280 px: every screen."""
    seen: set[tuple[str | None, frozenset[str]]] = set()
    for item, page in zip(plan, pages):
        kind = (item.role, page.templates or frozenset({item.key}))
        item.phone = kind not in seen
        seen.add(kind)


def screen_plan(instance, lang: str) -> list[Planned]:
    """The screens the first-run crawl reaches (tests/support/crawl.py), each once: the admin's
    crawl finds them all; each other role adds its home page (its menu), what only it reaches
    from its menu, and the first one a 403 page; signed out, the login page."""
    plan: list[Planned] = []
    pages: list[crawl.ScreenPage] = []
    known: set[str] = set()
    starts = crawl.start_urls(instance)
    for n, role in enumerate(crawl.ROLES):
        client = crawl.sign_in(instance, role, f"127.1.{n}.{crawl.LANGUAGES.index(lang) + 1}")
        crawl.switch_language(client, lang)
        admin = role == "Admin"
        found = crawl.screens(client, starts if admin else [], known=known, max_depth=3 if admin else 1)
        if not admin and "/" not in found:  # the home page: the role's own menu
            found = {"/": _get(client, "/"), **found}
        if admin:  # filtered lists (their chips) share one template, and so do the dashboard's
            # history pages (one per report type): the first of each only
            same = [k for k in found if k.endswith("?filtered")][1:] + \
                [k for k in found if k.startswith("/dashboard/history/")][ONE_HISTORY:]
            found = {k: p for k, p in found.items() if k not in same}
            found[NOT_FOUND] = _get(client, NOT_FOUND)
        elif "403" not in known:
            page = _get(client, FORBIDDEN)
            if page.status == 403:
                found["403"] = page
        known |= set(found)
        plan += [Planned(role, key, p.url, p.status, p.html) for key, p in found.items()]
        pages += found.values()
    anonymous = instance.app.test_client()
    anonymous.environ_base["REMOTE_ADDR"] = f"127.2.0.{crawl.LANGUAGES.index(lang) + 1}"
    assert anonymous.get(f"/lang/{lang}").status_code == 302
    pages.append(_get(anonymous, "/login/"))
    plan.append(Planned(None, "/login/", "/login/", pages[-1].status, pages[-1].html))
    narrow_once(plan, pages)
    return plan


def _get(client, url: str) -> crawl.ScreenPage:
    response, loaded = crawl.fetch(client, url)
    try:
        return crawl.ScreenPage(url, response.status_code, response.get_data(as_text=True), loaded)
    finally:
        response.close()


# --- the browser audit ---------------------------------------------------------------------------

def audit(browser, base_url: str, instance, lang: str, role: str | None, planned: list[Planned]) -> list[str]:
    """axe on each planned screen of one role, at 1280 px and, where planned (narrow_once), at 390 px;
    readable lines per violation. One browser context per role, signed in through the login form, in `lang`."""
    from tests.support.browser import Page

    context = browser.new_context(viewport=dict(zip(("width", "height"), WIDTHS["desktop"])),
                                  locale="zh-CN" if lang == "zh" else "en-US")
    add_axe(context)
    page = Page(context.new_page(), base_url)
    found: list[str] = []
    try:
        if role is not None:
            page.login(*instance.users[role])
        page.goto(f"/lang/{lang}")
        for item in planned:
            response = page.goto(item.url)
            status = response.status if response else 0
            if status != item.status:
                found.append(f"{item.url}: answered {status} in the browser, {item.status} to the crawl")
            for width, (w, h) in WIDTHS.items():
                if width == "phone" and not item.phone:
                    continue
                page.page.set_viewport_size({"width": w, "height": h})
                found += describe(f"{role or 'signed out'} {lang} {width} {item.url}", violations(page.page))
            page.page.set_viewport_size(dict(zip(("width", "height"), WIDTHS["desktop"])))
        found += [f"{role} {lang}: CSP violation {e}" for e in page.csp_violations]
    finally:
        context.close()
    return found
