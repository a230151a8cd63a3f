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
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from flask import Flask, got_request_exception, request
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.support.crawl import (
    LANGUAGES,
    MAX_DEPTH,
    ROLES,
    SKIP_RE,
    SKIPPED,
    Instance,
    demo_instance,
    local,
    pattern,
    sign_in,
    start_urls,
    switch_language,
)
from tests.support.pages import PageParts, header_problems, nonce_of
from tests.support.postgres import Server

PER_PATTERN = 2  # pages of one path pattern (show/<id>, edit/<id>); 1 per query pattern
STATIC_PREFIXES = ("/static/",)


# --- the instance (tests/support/crawl.py: the crawl's rules, shared with the skeleton and axe checks) ---

@pytest.fixture(scope="module")
def instance(pg: Server) -> Iterator[Instance]:
    """A database as `make run` leaves it (every migration, bootstrap + demo data), one user per role."""
    # a 500 is an answer to record, not a test error
    with demo_instance(pg, "crm_crawl", template=None, PROPAGATE_EXCEPTIONS=False) as found:
        def note(sender, exception, **_extra) -> None:
            found.errors[request.full_path.rstrip("?")] = f"{type(exception).__name__}: {exception}"

        got_request_exception.connect(note, found.app)
        yield found
        got_request_exception.disconnect(note, found.app)


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
        for url in start_urls(self.instance):
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
