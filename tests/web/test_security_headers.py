"""Security headers (app/web/headers.py): on pages, API answers, errors and static files."""
from __future__ import annotations

import re

from tests.support.client import login
from tests.support.pages import PageParts, header_problems, nonce_of


def test_signed_in_pages_api_and_errors_carry_the_headers_and_are_not_stored(admin):
    for url in ("/", "/customers/list/", "/customers/add", "/api/v1/customers/", "/no-such-page"):
        response = admin.get(url)
        assert response.status_code in (200, 404), url
        assert header_problems(response, static=False) == [], url
        assert response.headers["Cache-Control"] == "no-store", url
        assert response.headers["X-Frame-Options"] == "DENY"


def test_signed_out_login_page_has_the_headers(client):
    response = client.get("/login/")
    assert header_problems(response, static=False) == []


def test_static_files_stay_cacheable_with_nosniff(admin):
    for url in ("/static/crm/crm.js", "/static/appbuilder/css/ab.css"):
        response = admin.get(url)
        assert response.status_code == 200
        assert header_problems(response, static=True) == [], url
        assert "no-store" not in response.headers.get("Cache-Control", "")


def test_every_inline_script_carries_this_requests_nonce_also_from_kept_fragments(client, sql):
    sql("INSERT INTO customers (name) VALUES ('Nonce test')")
    login(client)
    nonces = set()
    for _ in range(2):  # the second list page takes its filter form from the kept fragments
        response = client.get("/customers/list/")
        nonce = nonce_of(response)
        parts = PageParts()
        parts.feed(response.get_data(as_text=True))
        assert parts.inline_nonces and set(parts.inline_nonces) == {nonce}
        assert parts.handlers == []
        script_src = re.search(r"script-src ([^;]*)", response.headers["Content-Security-Policy"]).group(1)
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        nonces.add(nonce)
    assert len(nonces) == 2 and all(len(n) >= 22 for n in nonces)  # fresh and unguessable per request
