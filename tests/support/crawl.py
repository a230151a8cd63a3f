"""The first-run crawl's rules (tests/web/test_crawler.py), shared with the page-skeleton and axe checks.

A prepared instance as `make run` leaves it (migrations, bootstrap, demo data) with one user per
default role; which links a crawl follows and skips; and a light crawl that keeps one page per
screen (path pattern), for checks that look at each screen once rather than at every link.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app.security.default_roles import DEFAULT_ROLES
from tests.support.apps import ADMIN_PASSWORD, TEMPLATE, make_app
from tests.support.client import csrf_token
from tests.support.pages import PageParts
from tests.support.postgres import Server

ROLES = ["Admin", *DEFAULT_ROLES]
LANGUAGES = ["en", "zh"]
PASSWORD = "Crawler-role-pass-2026!"
MAX_DEPTH = 3
# Started explicitly besides the home page (depth 1), as pages reach them through forms
# or POST buttons: the top bar's search box, the permission matrix's "effective permissions
# of a user", the profile's two forms and an admin's "reset password" of another user;
# and every chart's history, also when the dashboard that links to them fails.
FORM_STARTS = ["/search/?q=Acme", "/search/?q=%E5%8D%8E%E4%B8%BA",  # 华为
               "/permission-matrix/user/?username=crawl_sales_rep",
               "/userinfoeditview/form", "/resetmypassword/form", "/resetpassword/form?pk={rep_id}"]
# GET links the crawl does not follow, and why.
SKIPPED = {
    r"^/logout/": "signs the crawling user out",
    r"^/lang/": "stores the user's language: switched once per language before the crawl",
    r"/delete/": "FAB's delete answers GET too: it would delete demo rows (and change later pages)",
    r"/action/|/action_post": "FAB's row actions answer GET too and run (copy a role, convert leads); "
                              "pages offer them as POST buttons, not links",
    r"^/back$": "FAB's UtilView.back: only a redirect to the previous page of the session's history",
    r"/download/": "FAB's file download: there is no upload folder",
}
SKIP_RE = re.compile("|".join(SKIPPED))


@dataclass
class Instance:
    app: Flask
    users: dict[str, tuple[str, str]]  # role -> (username, password)
    user_ids: dict[str, int]  # role -> its user's id
    errors: dict[str, str] = field(default_factory=dict)  # path -> exception of its 500
    assets: dict[str, tuple[int, list[str]]] = field(default_factory=dict)  # url -> (status, problems)


@contextmanager
def demo_instance(pg: Server, name: str, template: str | None = TEMPLATE, **config) -> Iterator[Instance]:
    """A database as `make run` leaves it (bootstrap + demo data), one user per role; cloned from
    the session's migrated template unless template=None (then every migration runs here)."""
    url = pg.create_database(name, template=template)
    app = make_app(pg, url, DEMO_DATA=True, ADMIN_PASSWORD=ADMIN_PASSWORD, **config)
    from app.extensions import db
    from app.ops.cli import migrate_and_bootstrap

    with app.app_context():
        migrate_and_bootstrap(app)  # what `crm serve` (make run) does before serving
        from app.audit.context import acting_as

        with acting_as((str(app.appbuilder.sm.find_user("admin").id), "test")):  # row-level security: the admin
            assert db.session.execute(text("SELECT count(*) FROM customers")).scalar() > 0, "no demo data"
        db.session.remove()
        users = {"Admin": ("admin", ADMIN_PASSWORD)}
        sm = app.appbuilder.sm
        user_ids = {"Admin": sm.find_user("admin").id}
        for role in DEFAULT_ROLES:
            username = "crawl_" + role.lower().replace(" ", "_")
            user = sm.add_user(username, role, "Crawler", f"{username}@example.com", sm.find_role(role),
                               password=PASSWORD)
            assert user, role
            users[role], user_ids[role] = (username, PASSWORD), user.id
        db.session.remove()
    try:
        yield Instance(app, users, user_ids)
    finally:
        with app.app_context():
            db.engine.dispose()
        pg.drop_database(name)


def pattern(url: str) -> str:
    """The URL with ids and query values left out: pages of one pattern are one check."""
    parts = urlsplit(url)
    path = re.sub(r"/\d+(?=/|$)", "/<id>", parts.path)
    names = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return path + ("?" + "&".join(names) if names else "")


def local(base: str, href: str) -> str | None:
    """The app-relative URL of a link, or None when it leaves the app or is only a fragment."""
    if href.startswith("#"):
        return None
    url = urljoin(base, href)
    parts = urlsplit(url)
    if parts.scheme not in ("", "http") or parts.netloc not in ("", "localhost"):
        return None
    query = urlencode(parse_qsl(parts.query, keep_blank_values=True))
    return parts.path + ("?" + query if query else "")


def start_urls(instance: Instance) -> list[str]:
    """The crawl's starts besides the home page (depth 1)."""
    from app.reports.generators import REPORT_TYPES

    rep_id = instance.user_ids["Sales Rep"]
    return [url.format(rep_id=rep_id) for url in FORM_STARTS] + \
        [f"/dashboard/history/{name}" for name in REPORT_TYPES]


def sign_in(instance: Instance, role: str, address: str) -> FlaskClient:
    """A test client signed in as the role's user, from its own address (its own rate-limit window)."""
    client = instance.app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    username, password = instance.users[role]
    response = client.post("/login/", data={"username": username, "password": password,
                                             "csrf_token": csrf_token(client, "/login/")})
    assert response.status_code == 302 and "/login" not in response.headers["Location"], \
        f"{role} could not sign in"
    return client


def switch_language(client: FlaskClient, lang: str) -> None:
    """The top bar's language menu: /lang/<lang> stores the choice; the home page then shows it."""
    assert client.get(f"/lang/{lang}").status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert re.search(rf'<li class="active">\s*<a [^>]*data-language="{lang}"', home), f"not in {lang}"


# --- one page per screen ---------------------------------------------------------------------

def screen_key(url: str) -> str:
    """What makes a screen: the path with ids left out, and for a list whether a filter is set."""
    parts = urlsplit(url)
    path = re.sub(r"/\d+(?=/|$)", "/<id>", parts.path)
    names = {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    filtered = path.endswith("/list/") and any(n.startswith("_flt_") for n in names)
    return path + ("?filtered" if filtered else "")


@dataclass
class ScreenPage:
    url: str  # where the screen answered (after redirects inside the app)
    status: int
    html: str
    templates: frozenset[str] = frozenset()  # every template its answer loaded (extends, includes, widgets)


@contextmanager
def template_log(app: Flask) -> Iterator[list[str]]:
    """The names of the templates the app loads inside the block: the rendered one and what it extends,
    includes and imports, FAB's widgets too (they all go through the environment's get_template)."""
    env = app.jinja_env
    loaded: list[str] = []

    def get_template(name, *args, **kwargs):
        loaded.append(getattr(name, "name", name))
        return type(env).get_template(env, name, *args, **kwargs)

    env.get_template = get_template
    try:
        yield loaded
    finally:
        del env.get_template


def fetch(client: FlaskClient, url: str):
    """GET `url`: the response and the templates it loaded."""
    with template_log(client.application) as loaded:
        response = client.get(url)
    return response, frozenset(loaded)


def screens(client: FlaskClient, starts: list[str], known: set[str] | None = None,
            max_depth: int = MAX_DEPTH) -> dict[str, ScreenPage]:
    """screen key -> the first HTML page of that screen a signed-in client reaches by GET links
    from the home page and `starts`, to `max_depth`; screens in `known` are followed, not kept."""
    known = known or set()
    found: dict[str, ScreenPage] = {}
    seen_keys: set[str] = set()
    queue = [("/", 0)] + [(u, 1) for u in starts]
    seen_keys.update(screen_key(u) for u, _ in queue)
    while queue:
        url, depth = queue.pop(0)
        response, loaded = fetch(client, url)
        hops = 0
        while response.status_code in (301, 302, 303, 307, 308) and hops < 5:
            target = local(url, response.headers["Location"])
            if target is None or SKIP_RE.search(urlsplit(target).path):
                break
            url, hops = target, hops + 1
            response, loaded = fetch(client, url)
        if response.mimetype != "text/html" or response.status_code in (301, 302, 303, 307, 308):
            response.close()
            continue
        body = response.get_data(as_text=True)
        response.close()
        key = screen_key(url)
        if key not in known and key not in found:
            found[key] = ScreenPage(url, response.status_code, body, loaded)
        if response.status_code != 200 or depth >= max_depth:
            continue
        parts = PageParts()
        parts.feed(body)
        for link in (local(url, h) for h in parts.links):
            if link is None or SKIP_RE.search(urlsplit(link).path) or screen_key(link) in seen_keys:
                continue
            seen_keys.add(screen_key(link))
            queue.append((link, depth + 1))
    return found
