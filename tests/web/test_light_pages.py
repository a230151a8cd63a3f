"""Light pages: compressed answers, fingerprinted static files cached a year, deferred scripts, favicon."""
from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser

import brotli
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.web.assets import Manifest
from tests.support.apps import make_app
from tests.support.client import login
from tests.support.users import act_as

YEAR = "public, max-age=31536000, immutable"
BR = {"Accept-Encoding": "br, gzip"}


@pytest.fixture(scope="module")
def light_app(pg) -> Iterator[Flask]:
    """One app and database for the module: its tests only read."""
    from app.extensions import db
    from tests.support.apps import TEMPLATE

    name = f"crm_test_light_pages_{os.getpid()}"
    url = pg.create_database(name, template=TEMPLATE)
    application = make_app(pg, url)
    with application.app_context():
        from sqlalchemy import text

        with db.engine.begin() as conn:
            act_as(conn, "admin")  # row-level security: a row is written by someone
            conn.execute(text("INSERT INTO customers (name) VALUES ('Light one'), ('Light two')"))
    yield application
    with application.app_context():
        db.engine.dispose()
    pg.drop_database(name)


@pytest.fixture(scope="module")
def signed_in(light_app: Flask) -> FlaskClient:
    client = light_app.test_client()
    assert login(client).status_code == 302
    return client


class Head(HTMLParser):
    """The <head>'s scripts and stylesheets."""

    def __init__(self) -> None:
        super().__init__()
        self.in_head, self.in_script = False, False
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "head":
            self.in_head = True
        elif tag == "body":
            self.in_head = False
        elif self.in_head and tag == "script":
            self.in_script = True
            self.scripts.append(attributes)
        elif self.in_head and tag == "link" and attributes.get("rel") == "stylesheet":
            self.styles.append(attributes["href"])

    def handle_endtag(self, tag):
        if tag == "head":
            self.in_head = False
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_head and self.in_script and self.scripts and "src" not in self.scripts[-1]:
            self.inline.append(data)


def head_of(client: FlaskClient, url: str) -> Head:
    response = client.get(url)
    assert response.status_code == 200, url
    head = Head()
    head.feed(response.get_data(as_text=True))
    return head


def customer_url(client: FlaskClient) -> str:
    page = client.get("/customers/list/").get_data(as_text=True)
    return re.search(r'href="(/customers/show/\d+)', page).group(1)


def test_pages_css_js_and_json_are_compressed_when_the_browser_accepts_it(signed_in):
    page = signed_in.get("/customers/list/", headers=BR)
    assert page.headers["Content-Encoding"] == "br" and "Accept-Encoding" in page.headers["Vary"]
    html = brotli.decompress(page.get_data()).decode()
    assert "Light one" in html
    assert page.headers["Cache-Control"] == "no-store" and "nonce-" in page.headers["Content-Security-Policy"]
    gzipped = signed_in.get("/customers/list/", headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["Content-Encoding"] == "gzip" and "Light one" in gzip.decompress(gzipped.get_data()).decode()
    plain = signed_in.get("/customers/list/")  # no Accept-Encoding: as before
    assert "Content-Encoding" not in plain.headers and "Light one" in plain.get_data(as_text=True)

    head = Head()
    head.feed(html)
    for url in [head.styles[0]] + [s["src"] for s in head.scripts if s.get("src")][:2]:
        asset = signed_in.get(url, headers=BR)
        assert asset.status_code == 200 and asset.headers["Content-Encoding"] == "br", url
        assert len(brotli.decompress(asset.get_data())) > len(asset.get_data())
    api = signed_in.get("/api/v1/customers/", headers=BR)
    assert api.status_code == 200 and api.headers["Content-Encoding"] == "br"
    assert b"Light one" in brotli.decompress(api.get_data())


def test_csv_exports_stream_uncompressed(signed_in):
    export = signed_in.get("/customers/export/", headers=BR)
    assert export.status_code == 200 and export.is_streamed
    assert "Content-Encoding" not in export.headers
    assert "Light two" in export.get_data(as_text=True)


def test_static_files_have_fingerprinted_urls_cached_a_year(signed_in):
    head = head_of(signed_in, "/customers/list/")
    urls = head.styles + [s["src"] for s in head.scripts if s.get("src")]
    assert urls and all(re.search(r"\.[0-9a-f]{12}\.(css|js)$", url) for url in urls), urls
    for url in urls:
        response = signed_in.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == YEAR, url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        # the same for everyone: no session cookie on it, nor a Vary that would make a browser revalidate it
        assert "Set-Cookie" not in response.headers and "Cookie" not in response.headers.get("Vary", "")
    # the plain names keep working, revalidated
    for plain in ("/static/crm/lists.css", "/static/appbuilder/css/ab.css", "/static/crm/dashboard.js"):
        response = signed_in.get(plain)
        assert response.status_code == 200 and "immutable" not in response.headers.get("Cache-Control", ""), plain
    # a stylesheet's fonts are fingerprinted too
    fontawesome = next(url for url in urls if url.split("/")[-1].startswith("solid.min."))
    css = signed_in.get(fontawesome).get_data(as_text=True)
    font = re.search(r"url\((\.\./webfonts/fa-solid-900\.[0-9a-f]{12}\.woff2)\)", css).group(1)
    base = fontawesome.rsplit("/", 2)[0]
    served = signed_in.get(f"{base}/{font[3:]}")
    assert served.status_code == 200 and served.headers["Cache-Control"] == YEAR


def test_compressed_static_files_answer_304_to_their_etag(signed_in):
    url = head_of(signed_in, "/customers/list/").styles[0]
    first = signed_in.get(url, headers=BR)
    etag = first.headers["ETag"]
    assert etag.endswith(':br"')
    again = signed_in.get(url, headers={**BR, "If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    plain = signed_in.get("/static/crm/crm.js", headers=BR)  # streamed from the file, compressed on the way
    assert plain.headers["Content-Encoding"] == "br"
    revalidated = signed_in.get("/static/crm/crm.js", headers={**BR, "If-None-Match": plain.headers["ETag"]})
    assert revalidated.status_code == 304


def test_a_stale_fingerprint_gets_todays_file_revalidated(signed_in):
    response = signed_in.get("/static/crm/lists.0123456789ab.css")
    assert response.status_code == 200 and b"crm" in response.get_data()
    assert "immutable" not in response.headers.get("Cache-Control", "")


def test_a_fingerprint_changes_with_the_content_and_with_a_stylesheets_fonts(tmp_path):
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "icons.woff2").write_bytes(b"font one")
    (tmp_path / "site.css").write_text("a{background:url('fonts/icons.woff2?v=1#x')} b{background:url(data:x)}")
    manifest = Manifest(tmp_path)
    first = manifest.url_name("site.css")
    assert re.fullmatch(r"site\.[0-9a-f]{12}\.css", first)
    font = manifest.url_name("fonts/icons.woff2")
    assert f"url('{font}?v=1#x')" in manifest.asset("site.css").read().decode()
    assert manifest.url_name("site.css") == first  # unchanged: the same name
    (tmp_path / "fonts" / "icons.woff2").write_bytes(b"font two, longer")
    assert manifest.url_name("fonts/icons.woff2") != font
    second = manifest.url_name("site.css")
    assert second != first  # its font changed
    (tmp_path / "site.css").write_text("a{color:red}")
    assert manifest.url_name("site.css") not in (first, second)
    assert manifest.url_name("missing.css") == "missing.css"
    assert manifest.asset("../outside.css") is None


@pytest.mark.parametrize("page", ["/customers/list/", "customer", "/dashboard/", "/login/"])
def test_head_has_no_script_that_blocks_rendering(light_app, signed_in, page):
    client = light_app.test_client() if page == "/login/" else signed_in
    head = head_of(client, customer_url(client) if page == "customer" else page)
    external = [s for s in head.scripts if s.get("src")]
    assert external, "the scripts moved out of <head>?"
    assert [s["src"] for s in external if "defer" not in s and "async" not in s] == []
    # inline: only the few lines that queue $(fn) until the deferred jQuery runs
    assert len(head.inline) <= 1 and sum(len(text) for text in head.inline) < 600
    assert not any("brands" in url or "flags" in url for url in head.styles)  # unused stylesheets dropped
    widgets = [url for url in head.styles if "select2" in url or "datepicker" in url]
    assert (widgets == []) == (page in ("customer", "/dashboard/")), widgets  # only where forms may need them
    # no chart library anywhere: the dashboard's charts are drawn on the server (a small script exports PNG)
    assert not any("plotly" in s["src"] for s in external)
    if page == "/dashboard/":
        assert [s["src"] for s in external if "dashboard" in s["src"]] != []


def test_favicon(light_app):
    response = light_app.test_client().get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/vnd.microsoft.icon"
