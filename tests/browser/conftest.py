"""The browser fixture: a live server for the test's app and a fresh Chromium page on it."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, Page


@pytest.fixture
def browser_page(request: pytest.FixtureRequest, app: Flask) -> Iterator[Page]:
    # `make test-fast` skips this folder, `-m "not browser"` skips the mark: keep the two the same set
    assert request.node.get_closest_marker("browser"), f"{request.node.nodeid} is not marked browser"
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian chromium is missing: run `make test-deps` (apt-get install chromium)"
    with LiveServer(app) as live, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
        page = Page(context.new_page(), live.url)
        try:
            yield page
        finally:
            context.close()
            browser.close()
