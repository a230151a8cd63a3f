"""A live app server and a Playwright page on headless Debian Chromium, for tests/browser."""
from __future__ import annotations

import threading
from pathlib import Path
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"  # shown in the README


class LiveServer:
    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()


class Page:
    """A Playwright page that records console errors and requests leaving the app."""

    def __init__(self, page, base_url: str) -> None:
        self.page, self.base_url = page, base_url
        self.console_errors: list[str] = []
        self.foreign_requests: list[str] = []
        self.csp_violations: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        # the Content-Security-Policy's refusals, reported by the page itself (an exposed
        # function outlives navigations; the listener is added before any of the page's scripts)
        page.expose_function("crmCspViolation", lambda text: self.csp_violations.append(text))
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', function (e) {"
            " window.crmCspViolation(e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline')"
            " + ' at ' + e.documentURI + ':' + e.lineNumber); });")
        host = urlparse(base_url).netloc

        def route(route, request):
            if urlparse(request.url).netloc != host and not request.url.startswith("data:"):
                self.foreign_requests.append(request.url)
                return route.abort()
            return route.continue_()

        page.route("**/*", route)

    def goto(self, path: str):
        return self.page.goto(self.base_url + path)

    def login(self, username: str, password: str) -> None:
        self.goto("/login/")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.click("input[type=submit], button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def choose_language(self, code: str) -> None:
        """Switch the language from the top bar's menu."""
        self.page.click("#crm-language-menu")
        self.page.click(f"a[data-language={code}]")
        self.page.wait_for_load_state("networkidle")

    def sign_in(self, username: str, password: str, lang: str = "en") -> None:
        """Sign in, then choose `lang` when it is not the browser's own (English)."""
        self.login(username, password)
        if lang != "en":
            self.choose_language(lang)

    def navigate(self, act: Callable[[], Any]) -> None:
        """Do `act` (a click, a key) and wait for the page it opens."""
        with self.page.expect_navigation():
            act()
        self.page.wait_for_load_state("networkidle")

    def confirm_delete(self, trigger: str) -> str:
        """Click the delete button `trigger`, accept its confirmation and wait for the page it opens;
        returns what the confirmation asked."""
        self.page.click(trigger)
        self.page.wait_for_selector("#modal-confirm", state="visible")
        asked = self.page.inner_text("#modal-confirm .modal-body").strip()
        self.navigate(lambda: self.page.click("#modal-confirm-ok"))
        return asked

    def screenshot(self, name: str, directory: Path = ARTIFACTS) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_clean(self) -> None:
        assert self.foreign_requests == [], f"requests to other hosts: {self.foreign_requests}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"
        assert self.csp_violations == [], f"Content-Security-Policy violations: {self.csp_violations}"

    def assert_charts(self, count: int) -> None:
        """The page holds `count` charts, drawn by the server (inline SVG): nothing to wait for."""
        assert self.page.locator(".crm-chart > svg.crm-svg").count() == count
