"""axe-core in a Playwright page: run the WCAG 2.0/2.1 A and AA rules and say what they found.

axe-core comes from its npm package, pinned in tests/support/axe/package-lock.json and installed by
`make test-deps` (`npm ci`), never from a CDN. It is added to every page of a browser context as an
init script, which the page's Content-Security-Policy does not apply to: the pages keep their CSP.
"""
from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

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
        self._in_title = tag == "title"
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
