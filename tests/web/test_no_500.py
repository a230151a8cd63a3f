"""No request answers 5xx (issue 17): each class of bad input, sent to every route it can reach.

The routes come from the app's own URL map (and the views behind them), not from a
hand-kept list, so a new screen or endpoint is covered the day it is registered.
Each request must answer a 4xx (or, for a value that is merely extreme, anything
below 500) and leave every table as it was. One app and database serve the module.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import Date, DateTime, Numeric, inspect, text

from tests.support.apps import ADMIN_PASSWORD, make_app
from tests.support.client import CSRF_RE, login
from tests.support.htmlforms import form_fields
from tests.support.users import act_as

WATCHED = ["customers", "contacts", "leads", "opportunities", "activities", "service_tickets", "reports",
           "users", "roles", "permissions", "role_permissions"]
RESTRICTED_PASSWORD = "No-actions-password-2026-x"
DEEP = 50_000  # levels of nesting: far past Python's recursion limit
PARENT_ROWS = [
    "INSERT INTO customers (name) VALUES ('Parent') RETURNING customer_id",
    "INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:customer, 'A', 'B') RETURNING contact_id",
    "INSERT INTO leads (source, contact_id) VALUES ('Fair', :contact) RETURNING lead_id",
    "INSERT INTO opportunities (customer_id, name, close_date) VALUES (:customer, 'Deal', '2027-01-01') "
    "RETURNING opportunity_id",
    "INSERT INTO activities (customer_id, type, subject, activity_date) "
    "VALUES (:customer, 'call', 'Call', '2026-11-20 10:00') RETURNING activity_id",
    "INSERT INTO service_tickets (customer_id, subject) VALUES (:customer, 'Help') RETURNING ticket_id",
    "INSERT INTO reports (report_type, generated_at, data) VALUES ('note', '2026-11-01', '{}') RETURNING report_id",
]


@dataclass
class World:
    app: Flask
    admin: Any
    restricted: Any
    bearer: dict[str, str]
    run_sql: Callable[..., list]
    pks: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> tuple:
        parts = ", ".join(f"(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {t} t)"
                          for t in WATCHED)
        return tuple(self.run_sql(f"SELECT {parts}")[0])

    def csrf(self, client) -> str:
        return CSRF_RE.search(client.get("/").get_data(as_text=True)).group(1)


@pytest.fixture(scope="module")
def world(pg) -> Iterator[World]:
    name = "crm_test_no_500"
    url = pg.create_database(name, template="crm_test_template")
    app = make_app(pg, url)
    from app.extensions import db

    def run_sql(statement: str, **params) -> list:
        with app.app_context(), db.engine.begin() as conn:
            act_as(conn, "admin")  # row-level security: the admin sees and writes every record
            result = conn.execute(text(statement), params)
            return result.fetchall() if result.returns_rows else []

    ids: dict[str, int] = {}
    for statement in PARENT_ROWS:
        table = statement.split()[2]
        (ids[table],), = run_sql(statement, **{k.removesuffix("s"): v for k, v in ids.items()})
    with app.app_context():  # a role without actions: no permission at all
        sm = app.appbuilder.sm
        sm.add_user("noactions", "No", "Actions", "noactions@example.com", sm.add_role("No actions"),
                    password=RESTRICTED_PASSWORD)
        db.session.remove()
    admin, restricted = app.test_client(), app.test_client()
    assert login(admin).status_code == 302
    assert login(restricted, "noactions", RESTRICTED_PASSWORD).status_code == 302
    token = admin.post("/api/v1/security/login",
                       json={"username": "admin", "password": ADMIN_PASSWORD, "provider": "db"})
    bearer = {"Authorization": f"Bearer {token.get_json()['access_token']}"}
    yield World(app, admin, restricted, bearer, run_sql, ids)
    with app.app_context():
        db.engine.dispose()
    pg.drop_database(name)


# ---------------------------------------------------------------- discovery
def view_of(app: Flask, endpoint: str) -> Any:
    return getattr(app.view_functions.get(endpoint), "__self__", None)


def model_of(view: Any) -> type | None:
    datamodel = getattr(view, "datamodel", None)
    return getattr(datamodel, "obj", None)


def fill(world: World, rule) -> str | None:
    """The rule's URL with its arguments set to existing things; None when it cannot be filled."""
    view = view_of(world.app, rule.endpoint)
    values: dict[str, Any] = {}
    for arg in rule.arguments:
        if arg == "pk":
            model = model_of(view)
            table = model.__tablename__ if model is not None else None
            if table in world.pks:
                values[arg] = world.pks[table]
            else:  # security tables: the first row
                if table is None:
                    return None
                pk = inspect(model).primary_key[0].name
                values[arg] = world.run_sql(f"SELECT min({pk}) FROM {table}")[0][0]
        elif arg == "role_id":
            values[arg] = world.run_sql("SELECT min(role_id) FROM roles")[0][0]
        else:
            values[arg] = {"version": "v1", "locale": "en", "report_type": "pipeline_by_stage",
                           "token": "0" * 32, "name": "nosuch", "filename": "x.txt"}.get(arg)
            if values[arg] is None:
                return None
    return rule.build(values, append_unknown=False)[1]


def routes(world: World, method: str, prefix: str = "/") -> list[tuple[Any, str]]:
    found = []
    for rule in world.app.url_map.iter_rules():
        if method not in rule.methods or rule.endpoint.endswith("static") or not rule.rule.startswith(prefix):
            continue
        url = fill(world, rule)
        if url is not None:
            found.append((rule, url))
    return sorted(found, key=lambda pair: pair[1])


class Failures(list):
    def check(self, world: World, label: str, send: Callable[[], Any], ok: Callable[[int], bool]) -> None:
        before = world.snapshot()
        try:
            response = send()
        except Exception as exc:  # TESTING propagates what would be a 500
            self.append(f"{label}: raised {type(exc).__name__}: {str(exc)[:120]}")
            return
        if not ok(response.status_code):
            self.append(f"{label}: {response.status_code} {response.get_data(as_text=True)[:160]!r}")
        elif world.snapshot() != before:
            self.append(f"{label}: {response.status_code} but a table changed")


def is_4xx(code: int) -> bool:
    return 400 <= code < 500


def below_500(code: int) -> bool:
    return code < 500


# ---------------------------------------------------------------- the classes
def deep(opening: str, closing: str) -> str:
    return opening * DEEP + closing * DEEP


WRONG_BODIES = {
    "array": "[]", "null": "null", "string": '"text"', "number": "7", "deep array": deep("[", "]"),
    "deep object": '{"a":' * DEEP + "1" + "}" * DEEP, "deep in an object": '{"name":' + deep("[", "]") + "}",
    "NUL in a value": json.dumps({"name": "a\x00b", "subject": "a\x00b", "username": "a\x00b"}),
    "lone surrogate": '{"name": "a\\ud800b", "subject": "x\\udfff", "username": "\\ud800"}',
    "surrogate key": '{"\\ud800": 1}',
    "not JSON": "{nope",
}


def test_json_bodies_of_the_wrong_shape(world):
    failures = Failures()
    for method in ("POST", "PUT"):
        for rule, url in routes(world, method):
            headers = world.bearer if url.startswith("/api/") else {"X-CSRFToken": world.csrf(world.admin)}
            for label, body in WRONG_BODIES.items():
                failures.check(world, f"{method} {url} {label}", lambda: world.admin.open(
                    url, method=method, data=body, content_type="application/json", headers=headers), is_4xx)
    assert not failures, "\n".join(failures)


BAD_Q = ["1e", "(", "!(1,2)", "'text'", "(page:-1,page_size:10)", "(page:0,page_size:-5)",
         "(page:99999999999999999999,page_size:10)", "(page:0,page_size:99999999999999999999)",
         "(page:9223372036854775807,page_size:100)", "(page:'a')", "(columns:!(nosuch))",
         "(order_column:nosuch,order_direction:asc)", "(order_column:name,order_direction:up)",
         "(keys:!(nosuch))", "(filters:!((col:nosuch,opr:eq,value:1)))", "(filters:'x')",
         "(filters:!((col:name,opr:nosuch,value:1)))", "(select_columns:!(x))",
         "(add_columns:(customer:(page:-1,page_size:10)))", "(edit_columns:(contact:(page:0,page_size:-1)))",
         "(add_columns:(customer:(page:99999999999999999999,page_size:10)))"]


def filter_values(model: type, column: str, operator: str) -> list[str]:
    """Rison values of the wrong type for a filter on `column`."""
    bad = ["!((a:b))", "(a:b)"] if operator in ("in", "not_in") else ["!(a,b)", "(a:b)"]
    mapper = inspect(model)
    if column in mapper.relationships:
        return bad + ["abc", "99999999999999999999", "-1.5"]
    kind = mapper.columns[column].type if column in mapper.columns else None
    if isinstance(kind, (Numeric, Date, DateTime)) or getattr(kind, "python_type", str) in (int, float):
        return bad + ["abc", "99999999999999999999999999"]
    return bad


IGNORED_Q = {"(columns:!(nosuch))", "(select_columns:!(x))"}  # FAB leaves out what it does not know


def test_api_query_arguments(world):
    from flask_appbuilder.api import ModelRestApi

    failures = Failures()
    for rule, url in routes(world, "GET", "/api/v1/"):
        view = view_of(world.app, rule.endpoint)
        model_api = isinstance(view, ModelRestApi)
        cases = [(q, is_4xx if model_api and q not in IGNORED_Q else below_500) for q in BAD_Q]
        if rule.endpoint.endswith(".get_list"):
            model = model_of(view)
            for column, filters in view._filters.get_search_filters().items():
                for operator in ("!(x)", "(a:b)", "1"):  # an operator that is no name
                    cases.append((f"(filters:!((col:{column},opr:{operator},value:a)))", is_4xx))
                for flt in filters:
                    for value in filter_values(model, column, flt.arg_name):
                        cases.append((f"(filters:!((col:{column},opr:{flt.arg_name},value:{value})))", is_4xx))
        for q, expect in cases:
            failures.check(world, f"{url}?q={q}", lambda: world.admin.get(
                url, query_string={"q": q}, headers=world.bearer), expect)
    assert not failures, "\n".join(failures)


def related_filter_args(view: Any) -> Iterator[str]:
    model = model_of(view)
    relations = inspect(model).relationships
    for column, filters in view._filters.get_search_filters().items():
        if column in relations:
            for index in range(len(filters)):
                for value in ("abc", "99999999999999999999", "-1", "1.5"):
                    yield f"_flt_{index}_{column}={value}"


def test_related_row_filters_on_lists_and_exports(world):
    failures = Failures()
    for kind in ("list", "export"):
        for rule, url in routes(world, "GET"):
            if not rule.endpoint.endswith(f".{kind}"):
                continue
            for query in related_filter_args(view_of(world.app, rule.endpoint)):
                failures.check(world, f"{url}?{query}", lambda: world.admin.get(f"{url}?{query}"), is_4xx)
    assert not failures, "\n".join(failures)


def test_unknown_actions(world):
    """400 for a user who may act on the screen (admin, where it offers actions or changes), else 403."""
    failures = Failures()
    bodies = [{}, {"action": "nosuch"}, {"action": "\x00"}, {"action": "<b>"}, {"action": "nosuch", "rowid": "abc"}]
    for rule, url in routes(world, "POST"):
        if not rule.endpoint.endswith((".action_post", ".action")):
            continue
        view = view_of(world.app, rule.endpoint)
        writable = view.actions or {"can_add", "can_edit", "can_delete"} & set(view.base_permissions)
        if rule.endpoint.endswith(".action_post"):
            for client, expected in ((world.admin, 400 if writable else 403), (world.restricted, 403)):
                for body in bodies:
                    data = {**body, "csrf_token": world.csrf(client)}
                    failures.check(world, f"{url} {body} as {expected}",
                                   lambda: client.post(url, data=data), lambda code: code == expected)
        elif rule.endpoint.endswith(".action"):
            # and a bulk-only action on the one-row route (FAB would hand it one row, not a list)
            bulk = [name for name, action in view.actions.items() if not action.single]
            for name in ("nosuch", "%00", "x" * 300, *bulk):
                target = url.replace("/nosuch/", f"/{name}/")
                failures.check(world, f"POST {target}", lambda: world.admin.post(
                    target, data={"csrf_token": world.csrf(world.admin)}), is_4xx)
    assert not failures, "\n".join(failures)


def test_no_download_routes(world):
    assert not [r.rule for r in world.app.url_map.iter_rules() if r.endpoint.endswith(".download")]
    screens = {view.route_base for view in world.app.appbuilder.baseviews if model_of(view) is not None}
    failures = Failures()
    for base in sorted(screens):
        for name in ("x.txt", "..%2F..%2Fetc%2Fpasswd", "nosuch"):
            failures.check(world, f"{base}/download/{name}", lambda: world.admin.get(f"{base}/download/{name}"),
                           lambda code: code == 404)
    assert not failures, "\n".join(failures)


EXTREME_DATES = ["9999-12-31", "0001-01-01", "10000-01-01", "2026-02-30", "-5000-01-01"]


def date_args(world: World, rule) -> dict[str, Callable[[str], Any]]:
    """Every date argument the route reads, each with how to write a date into it.

    List filters on date columns, the board's date filters, and the positions (cursors)
    of keyset-paged lists and timelines, which carry the date of a row.
    """
    import dataclasses

    from app.lists.keyset import Cursor
    from app.sales.pipeline import BoardFilters
    from views.pages.pipeline_board import PipelineView
    from views.tables.model_view import CrmModelView
    from views.widgets.customer_page import TIMELINE_ARG, customer360_panel

    view = view_of(world.app, rule.endpoint)
    kind = rule.endpoint.rpartition(".")[2]
    args: dict[str, Callable[[str], Any]] = {}
    if isinstance(view, PipelineView):
        args.update({f.name: str for f in dataclasses.fields(BoardFilters) if "date" in str(f.type)})
    paging = view.paging if isinstance(view, CrmModelView) else None
    if customer360_panel in getattr(view, "show_panels", ()) and kind == "show":
        args[TIMELINE_ARG] = lambda day: f"{day}T00:00:00~activity~1"
    if paging and paging.feed and kind == "list":  # the log: readable positions
        args.update({name: (lambda day: f"{day}T00:00:00~1") for name in paging.arguments(type(view).__name__)})
    model = model_of(view)
    if model is not None and kind in ("list", "export"):
        columns = inspect(model).columns
        for column, filters in view._filters.get_search_filters().items():
            if column in columns and isinstance(columns[column].type, (Date, DateTime)):
                args.update({f"_flt_{i}_{column}": str for i in range(len(filters))})
                if paging and not paging.feed and kind == "list" and column in view.order_columns:
                    name = type(view).__name__
                    for side in ("after", "before"):  # a position in the list sorted by this column
                        args[f"{side}_{name}"] = lambda day, column=column, name=name: {
                            f"_oc_{name}": column, f"_od_{name}": "desc",
                            "": Cursor(f"{column} desc", f"{day}T00:00:00", 1).encode()}
    return args


def test_extreme_dates_in_query_arguments(world):
    failures = Failures()
    for rule, url in routes(world, "GET"):
        # the language switch saves the user's language: a change by design
        if url.startswith("/api/") or rule.endpoint.endswith((".logout", "LocaleView.index")):
            continue
        for name, write in date_args(world, rule).items():
            for value in EXTREME_DATES:
                written = write(value)  # the value, or the value (key "") with the arguments it needs
                query = dict(written) if isinstance(written, dict) else {"": written}
                query[name] = query.pop("")
                failures.check(world, f"{url}?{query}", lambda: world.admin.get(url, query_string=query), below_500)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("body", [
    {"username": "admin", "password": "x"},  # no provider
    {"username": "adm\x00in", "password": "x", "provider": "db"},
    {"username": "\ud800", "password": "x", "provider": "db"},
    {"username": ["admin"], "password": "x", "provider": "db"},
    {"username": "admin", "password": None, "provider": "db"},
    {"username": "admin", "password": "x", "provider": "nosuch"},
    {"username": "a\x00", "password": "x", "provider": "ldap"},
])
def test_api_sign_in_with_bad_fields(world, body):
    before = world.snapshot()
    response = world.app.test_client().post("/api/v1/security/login", data=json.dumps(body),
                                            content_type="application/json")
    assert response.status_code in (400, 401), response.status_code
    assert world.snapshot() == before


def test_nul_and_control_characters_in_every_form(world):
    """Every form's inputs, one at a time, with a NUL or an escape: a form error or a 4xx, nothing stored."""
    failures = Failures()
    for rule, url in routes(world, "POST"):
        if "GET" not in rule.methods or url.startswith("/api/") or "/action/" in url or "/delete/" in url:
            continue
        page = world.admin.get(url)
        fields = form_fields(page.get_data(as_text=True)) if page.status_code == 200 else {}
        for name in [n for n in fields if n not in ("csrf_token", "version")]:
            for value in ("a\x00b", "\x1b[31m"):
                data = {**fields, name: value}
                # a 302 stored nothing when the value was not text (a checkbox): the snapshot says
                failures.check(world, f"{url} {name}={value!r}", lambda: world.admin.post(url, data=data),
                               lambda code: code in (200, 302, 400))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("first_name", ["x" * 300, "Ada\x00", "Ada\x07"])
def test_profile_edit_shows_the_form_error(world, first_name):
    before = world.run_sql("SELECT first_name, last_name FROM users WHERE username = 'admin'")
    response = world.admin.post("/userinfoeditview/form", data={
        "first_name": first_name, "last_name": "Admin", "csrf_token": world.csrf(world.admin)})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "has-error" in page or "alert-danger" in page
    assert world.run_sql("SELECT first_name, last_name FROM users WHERE username = 'admin'") == before
