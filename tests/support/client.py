"""What a browser does, through Flask's test client: CSRF tokens, signing in, posting forms, languages."""
from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.support.apps import ADMIN_PASSWORD

CSRF_RE = re.compile(r'name="csrf[_-]token"[^>]*(?:value|content)="([^"]+)"')


def csrf_token(client: FlaskClient, url: str) -> str:
    page = client.get(url)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url} ({page.status_code})"
    return match.group(1)


def login(client: FlaskClient, username: str = "admin", password: str = ADMIN_PASSWORD):
    token = csrf_token(client, "/login/")
    return client.post("/login/", data={"username": username, "password": password, "csrf_token": token})


def post_form(client: FlaskClient, url: str, data: dict, form_url: str | None = None):
    """POST a FAB form with the CSRF token taken from the page, as a browser would."""
    token = csrf_token(client, form_url or url)
    return client.post(url, data={**data, "csrf_token": token})


def flashes(response_or_client) -> str:
    """Flashed messages rendered on the page the client lands on next."""
    client = response_or_client
    return client.get("/").get_data(as_text=True)


def switch_language(client: FlaskClient, lang: str):
    """The top bar's language menu: /lang/<lang> redirects back."""
    response = client.get(f"/lang/{lang}", headers={"Referer": "/"})
    assert response.status_code == 302
    return response
