"""The browser fixtures: one headless Chromium per test module, and for each test a live server for its
app and a fresh browser context (cookies, storage, cache of its own) with a page on it."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, Page


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Chromium, launched once per module (a launch costs about a second): its tests open their own
    contexts in it, which share nothing with each other. Not once per process: Playwright's sync API
    keeps an asyncio loop running in the thread, which would break asyncio.run in later modules."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian chromium is missing: run `make test-deps` (apt-get install chromium)"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def browser_page(request: pytest.FixtureRequest, app: Flask, chromium) -> Iterator[Page]:
    # `make test-fast` skips this folder, `-m "not browser"` skips the mark: keep the two the same set
    assert request.node.get_closest_marker("browser"), f"{request.node.nodeid} is not marked browser"
    with LiveServer(app) as live:
        context = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
        page = Page(context.new_page(), live.url)
        try:
            yield page
        finally:
            context.close()
