"""Every page reachable from the menu works for every default role, in English and Chinese.

One database is prepared per module exactly as `make run` prepares it (migrations, then the
start-up bootstrap with the demo data: app.ops.cli.migrate_and_bootstrap). Then, for each role
(the built-in Admin and each default role of app.security.default_roles, one user each) and each
language, a signed-in client follows with GET every link from the home page and its menu to
depth 3, and checks on every answer:
- no 5xx;
- every script, style sheet and image (and icon) the page loads answers 200;
- a 403 only where the role lacks the permission the route is guarded by (read from the
  database), and no 200 on a guarded route where it lacks it;
- the security headers (app/web/headers.py), and on HTML pages that every inline
  script carries the request's nonce and no element has an inline event handler.
Links are deduplicated by pattern (ids and query values left out): at most PER_PATTERN
pages per pattern, so each screen gets a few show and edit pages, not every row's, and one
page of each combination of list arguments (sort, page, position, filter).
"""
from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterator
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
from flask import Flask, got_request_exception, request
from flask.testing import FlaskClient
from sqlalchemy import text

from app.security.default_roles import DEFAULT_ROLES
from tests.support.apps import ADMIN_PASSWORD, make_app
from tests.support.client import csrf_token
from tests.support.postgres import Server
from tests.support.pages import PageParts, header_problems, nonce_of

ROLES = ["Admin", *DEFAULT_ROLES]
LANGUAGES = ["en", "zh"]
PASSWORD = "Crawler-role-pass-2026!"
MAX_DEPTH = 3
PER_PATTERN = 2  # pages of one path pattern (show/<id>, edit/<id>); 1 per query pattern
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
STATIC_PREFIXES = ("/static/",)


# --- the instance ------------------------------------------------------------------------

@dataclass
class Instance:
    app: Flask
    users: dict[str, tuple[str, str]]  # role -> (username, password)
    user_ids: dict[str, int]  # role -> its user's id
    errors: dict[str, str] = field(default_factory=dict)  # path -> exception of its 500
    assets: dict[str, tuple[int, list[str]]] = field(default_factory=dict)  # url -> (status, problems)


@pytest.fixture(scope="module")
def instance(pg: Server) -> Iterator[Instance]:
    """A database as `make run` leaves it (bootstrap + demo data), one user per role."""
    name = "crm_crawl"
    url = pg.create_database(name)
    app = make_app(pg, url, DEMO_DATA=True, ADMIN_PASSWORD=ADMIN_PASSWORD,
                   PROPAGATE_EXCEPTIONS=False)  # a 500 is an answer to record, not a test error
    from app.ops.cli import migrate_and_bootstrap
    from app.extensions import db

    with app.app_context():
        migrate_and_bootstrap(app)  # what `crm serve` (make run) does before serving
        assert db.session.execute(text("SELECT count(*) FROM customers")).scalar() > 0, "no demo data"
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
    found = Instance(app, users, user_ids)

    def note(sender, exception, **_extra) -> None:
        found.errors[request.full_path.rstrip("?")] = f"{type(exception).__name__}: {exception}"

    got_request_exception.connect(note, app)
    yield found
    got_request_exception.disconnect(note, app)
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


# --- permissions ---------------------------------------------------------------------------

def required_permission(app: Flask, path: str) -> tuple[str, str] | None:
    """(action, resource) that FAB's @has_access checks for this GET, None when unguarded."""
    try:
        endpoint, _ = app.url_map.bind("localhost").match(path, method="GET")
    except Exception:
        return None
    view_name, _, method = endpoint.partition(".")
    view = next((v for v in app.appbuilder.baseviews if v.endpoint == view_name), None)
    func = getattr(view, method, None)
    if view is None or not hasattr(func, "_permission_name"):
        return None
    name = (view.method_permission_name or {}).get(method) or func._permission_name
    return f"can_{name}", view.class_permission_name


def role_has(app: Flask, role: str, permission: tuple[str, str]) -> bool:
    from app.extensions import db

    with app.app_context():
        return bool(db.session.execute(text(
            "SELECT 1 FROM role_permissions rp JOIN roles r USING (role_id) "
            "JOIN permissions p USING (permission_id) JOIN actions a ON a.id = p.action_id "
            "JOIN resources s ON s.id = p.resource_id "
            "WHERE r.role_name = :role AND a.name = :action AND s.name = :resource"),
            {"role": role, "action": permission[0], "resource": permission[1]}).first())


# --- the crawl -----------------------------------------------------------------------------

@dataclass
class Crawl:
    instance: Instance
    client: FlaskClient
    role: str
    problems: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    per_pattern: Counter = field(default_factory=Counter)
    statuses: dict[str, int] = field(default_factory=dict)
    granted: dict[tuple[str, str], bool] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def enqueue(self, url: str, queue: list[str]) -> None:
        if url in self.seen:
            return
        if SKIP_RE.search(urlsplit(url).path):
            self.skipped[url] = SKIPPED[next(p for p in SKIPPED if re.search(p, urlsplit(url).path))]
            return
        key = pattern(url)
        if self.per_pattern[key] >= (1 if "?" in key else PER_PATTERN):
            return
        self.per_pattern[key] += 1
        self.seen.add(url)
        queue.append(url)

    def visit(self, url: str) -> list[str]:
        """GET one page (following redirects inside the app); its links."""
        response = self.client.get(url)
        hops = 0
        while response.status_code in (301, 302, 303, 307, 308) and hops < 5:
            self.check_answer(url, response)
            target = local(url, response.headers["Location"])
            if target is None or SKIP_RE.search(urlsplit(target).path):
                return []
            url, hops = target, hops + 1
            self.seen.add(url)
            response = self.client.get(url)
        self.check_answer(url, response)
        try:  # read to the end: a streamed answer (a CSV export) can fail after its 200
            body = response.get_data(as_text=True)
        except Exception as exc:  # noqa: BLE001  (any failure is the finding)
            self.problems.append(f"{url}: the answer's body failed: {type(exc).__name__}: {exc}")
            return []
        finally:
            response.close()
        if response.status_code != 200 or response.mimetype != "text/html":
            return []
        parts = PageParts()
        parts.feed(body)
        nonce = nonce_of(response)
        if any(n != nonce for n in parts.inline_nonces):
            self.problems.append(f"{url}: inline script without this answer's nonce ({parts.inline_nonces})")
        self.problems += [f"{url}: inline handler {h} (blocked by the CSP)" for h in parts.handlers]
        for resource in parts.resources:
            self.check_asset(url, resource)
        return [u for u in (local(url, h) for h in parts.links) if u]

    def check_answer(self, url: str, response) -> None:
        status = self.statuses[url] = response.status_code
        self.problems += [f"{url}: {p}" for p in header_problems(response, static=False)]
        permission = required_permission(self.instance.app, urlsplit(url).path)
        if status >= 500:
            self.problems.append(f"{url}: {status} {self.instance.errors.get(url, '')}".rstrip())
        elif status == 403 and permission is None:
            self.problems.append(f"{url}: 403 on a route no permission guards")
        elif status in (200, 403) and permission is not None:
            if permission not in self.granted:
                self.granted[permission] = role_has(self.instance.app, self.role, permission)
            allowed = self.granted[permission]
            if status == 403 and allowed:
                self.problems.append(f"{url}: 403 although {self.role} has {permission[0]} on {permission[1]}")
            elif status == 200 and not allowed:
                self.problems.append(f"{url}: 200 although {self.role} lacks {permission[0]} on {permission[1]}")
        elif status not in (200, 302, 303):
            self.problems.append(f"{url}: {status}")

    def check_asset(self, page: str, src: str) -> None:
        url = local(page, src)
        if url is None:
            self.problems.append(f"{page}: loads {src} from outside the app")
            return
        if url not in self.instance.assets:
            response = self.client.get(url)
            static = url.startswith(STATIC_PREFIXES) or response.cache_control.public
            self.instance.assets[url] = (response.status_code, header_problems(response, static=static))
            response.close()
        status, problems = self.instance.assets[url]
        if status != 200:
            self.problems.append(f"{page}: {url} answers {status}")
        self.problems += [f"{url}: {p}" for p in problems]

    def run(self) -> None:
        queue: list[str] = []
        self.enqueue("/", queue)
        depth_of = {"/": 0}
        from app.reports.generators import REPORT_TYPES

        rep_id = self.instance.user_ids["Sales Rep"]
        starts = [url.format(rep_id=rep_id) for url in FORM_STARTS]
        starts += [f"/dashboard/history/{name}" for name in REPORT_TYPES]
        for url in starts:
            self.enqueue(url, queue)
            depth_of[url] = 1
        while queue:
            url = queue.pop(0)
            links = self.visit(url)
            if depth_of[url] < MAX_DEPTH:
                for link in links:
                    if link not in self.seen:
                        self.enqueue(link, queue)
                        depth_of.setdefault(link, depth_of[url] + 1)


def sign_in(instance: Instance, role: str, address: str) -> FlaskClient:
    client = instance.app.test_client()
    client.environ_base["REMOTE_ADDR"] = address  # each crawl its own sign-in rate-limit window
    username, password = instance.users[role]
    response = client.post("/login/", data={"username": username, "password": password,
                                             "csrf_token": csrf_token(client, "/login/")})
    assert response.status_code == 302 and "/login" not in response.headers["Location"], \
        f"{role} could not sign in"
    return client


def switch_language(client: FlaskClient, lang: str) -> None:
    assert client.get(f"/lang/{lang}").status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert re.search(rf'<li class="active">\s*<a [^>]*data-language="{lang}"', home), f"not in {lang}"


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("role", ROLES)
def test_every_page_reachable_from_the_menu_works(instance: Instance, role: str, lang: str) -> None:
    client = sign_in(instance, role, f"127.0.{ROLES.index(role)}.{LANGUAGES.index(lang) + 1}")
    switch_language(client, lang)
    crawl = Crawl(instance, client, role)
    started = time.monotonic()
    crawl.run()
    by_status = defaultdict(list)
    for url, status in crawl.statuses.items():
        by_status[status].append(url)
    print(f"{role}/{lang}: {len(crawl.statuses)} pages in {time.monotonic() - started:.1f} s, "
          f"{ {s: len(u) for s, u in sorted(by_status.items())} }; skipped {len(crawl.skipped)}")
    assert len(crawl.statuses) > 5, "the crawl found almost nothing: is the menu there?"
    if crawl.problems:
        pytest.fail("\n".join(dict.fromkeys(crawl.problems)), pytrace=False)
