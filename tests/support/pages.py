"""What a page holds (links, resources, inline scripts, visible text, charts) and the security headers it must carry."""
from __future__ import annotations

import re
from html.parser import HTMLParser

CSP_DIRECTIVES = ("frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'")
FIXED_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                 "Referrer-Policy": "same-origin"}
EVENT_ATTRIBUTE = re.compile(r"on[a-z]+")


class PageParts(HTMLParser):
    """Links, loaded resources, inline scripts' nonces and inline event handlers of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.resources: list[str] = []
        self.inline_nonces: list[str | None] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.handlers += [f"<{tag} {k}=...>" for k in a if EVENT_ATTRIBUTE.fullmatch(k)]
        self.handlers += [f"<{tag} {k}={v}>" for k, v in a.items() if v.strip().lower().startswith("javascript:")]
        rel = a.get("rel", "").lower().split()
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "script":
            if a.get("src"):
                self.resources.append(a["src"])
            else:
                self.inline_nonces.append(a.get("nonce"))
        elif tag == "link" and a.get("href") and {"stylesheet", "icon"} & set(rel):
            self.resources.append(a["href"])
        elif tag == "img" and a.get("src") and not a["src"].startswith("data:"):
            self.resources.append(a["src"])


def header_problems(response, static: bool) -> list[str]:
    """What is missing from app/web/headers.py's headers on one answer."""
    problems = []
    csp = response.headers.get("Content-Security-Policy", "")
    script_src = next((d for d in csp.split(";") if d.strip().startswith("script-src")), "")
    if "'unsafe-inline'" in script_src or "'nonce-" not in script_src:
        problems.append(f"CSP script-src without a nonce or with 'unsafe-inline': {script_src!r}")
    problems += [f"CSP lacks {d}" for d in CSP_DIRECTIVES if d not in csp]
    problems += [f"{k}: {response.headers.get(k)!r}" for k, v in FIXED_HEADERS.items()
                 if response.headers.get(k) != v]
    no_store = "no-store" in response.headers.get("Cache-Control", "")
    if static == no_store:
        problems.append(f"Cache-Control {response.headers.get('Cache-Control')!r} on a "
                        + ("static file" if static else "page"))
    return problems


def nonce_of(response) -> str:
    match = re.search(r"'nonce-([^']+)'", response.headers.get("Content-Security-Policy", ""))
    return match.group(1) if match else ""


class VisibleText(HTMLParser):
    """Text nodes a reader sees (not scripts or styles)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def visible_texts(page: str) -> list[str]:
    parser = VisibleText()
    parser.feed(page)
    return parser.texts


class Charts(HTMLParser):
    """The server-drawn charts of a page: each svg's name, its marks' links and names, and its data table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: list[dict] = []
        self.stack: list[str] = []
        self.text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = dict(attrs)
        if tag == "svg" and "crm-svg" in (found.get("class") or ""):
            self.charts.append({"name": "", "role": found.get("role"), "marks": [], "rows": []})
        chart = self.charts[-1] if self.charts else None
        if chart is None:
            return
        if tag == "title" and not chart["name"]:
            self.text = []
        elif tag == "a" and found.get("class") == "crm-mark-link":
            chart["marks"].append({"href": found.get("href"), "name": found.get("aria-label")})
        elif tag == "tr":
            chart["rows"].append([])
        elif tag in ("td", "th") and chart["rows"]:
            self.text = []
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.text is not None and tag in ("title", "td", "th"):
            chart, value = self.charts[-1], " ".join("".join(self.text).split())
            if tag == "title":
                chart["name"] = value
            else:
                chart["rows"][-1].append(value)
            self.text = None

    def handle_data(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)


def page_charts(page: str) -> list[dict]:
    """The charts a dashboard or report page draws: name, role, marks [{href, name}], table rows (header first)."""
    parser = Charts()
    parser.feed(page)
    return parser.charts
