"""Light pages in Chromium: a warm second visit fetches no static file; deferred scripts still run."""
from __future__ import annotations

import pytest

from tests.support.apps import ADMIN_PASSWORD
from tests.support.browser import LiveServer

pytestmark = pytest.mark.browser


class Recorder:
    """WSGI middleware noting every path that reached the server."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app, self.paths = wsgi_app, []

    def __call__(self, environ, start_response):
        self.paths.append(environ.get("PATH_INFO", ""))
        return self.wsgi_app(environ, start_response)


def test_a_warm_second_visit_fetches_no_static_file(app, sql, chromium):
    sql("INSERT INTO customers (name) VALUES ('Warm visit')")
    recorder = Recorder(app.wsgi_app)
    app.wsgi_app = recorder
    errors: list[str] = []
    # no page.route here: Playwright's routing turns the HTTP cache off; a new context starts with an empty cache
    with LiveServer(app) as live:
        context = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(f"{live.url}/login/")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", ADMIN_PASSWORD)
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_load_state("networkidle")
            page.goto(f"{live.url}/customers/list/")
            page.wait_for_load_state("networkidle")
            cold = [p for p in recorder.paths if p.startswith("/static/")]
            assert any(p.endswith(".css") for p in cold) and any(p.endswith(".js") for p in cold)

            recorder.paths.clear()
            page.goto(f"{live.url}/customers/list/")
            page.wait_for_load_state("networkidle")
            assert "/customers/list/" in recorder.paths  # the page itself came from the server
            assert [p for p in recorder.paths if p.startswith("/static/")] == []
            # the deferred scripts ran: jQuery's plugins, FAB's filters, the app's own
            assert page.evaluate("typeof jQuery.fn.select2 === 'function' && typeof AdminFilters === 'function'")
            page.goto(f"{live.url}/customers/list/?_flt_0_name=Warm")  # FAB's filters draw the active one
            page.locator("#filter_form table.filters tr").first.wait_for(state="attached")
            assert errors == []
        finally:
            context.close()
