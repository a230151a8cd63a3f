"""Teams, record owners on the screens, the data scope select and the "Mine / My team / All" switch.

One prepared database for the module: a team North led by `mgr` (Sales Manager) with the rep
`rep` in it, and a few customers owned by each. Tests that write use their own rows.
"""
from __future__ import annotations

import json
import os
import re
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.support.apps import TEMPLATE, make_app
from tests.support.client import csrf_token, flashes, login, post_form
from tests.support.users import USER_PASSWORD, act_as, add_user, sql_as


@pytest.fixture(scope="module")
def owned_app(pg) -> Iterator[Flask]:
    from app.extensions import db

    name = f"crm_test_ownership_{os.getpid()}"
    application = make_app(pg, pg.create_database(name, template=TEMPLATE))
    add_user(application, "mgr", "Mia", "Manager", "Sales Manager", USER_PASSWORD)
    add_user(application, "rep", "Ray", "Rep", "Sales Rep", USER_PASSWORD)
    add_user(application, "other", "Olga", "Other", "Sales Rep", USER_PASSWORD)
    with application.app_context(), db.engine.begin() as conn:
        act_as(conn, "admin")  # row-level security: the admin writes records for anyone
        conn.execute(text("INSERT INTO teams (name, leader_id) SELECT 'North', user_id FROM users WHERE username = 'mgr'"))
        conn.execute(text("UPDATE users SET team_id = (SELECT team_id FROM teams WHERE name = 'North') "
                          "WHERE username IN ('mgr', 'rep')"))
        for username, names in (("mgr", ("M1",)), ("rep", ("R1", "R2")), ("other", ("O1",))):
            for customer in names:
                conn.execute(text("INSERT INTO customers (name, owner_id) SELECT :n, user_id FROM users "
                                  "WHERE username = :u"), {"n": customer, "u": username})
    yield application
    with application.app_context():
        db.engine.dispose()
    pg.drop_database(name)


@pytest.fixture(scope="module")
def run(owned_app):
    return sql_as(owned_app)


@pytest.fixture(scope="module")
def boss(owned_app) -> FlaskClient:
    client = owned_app.test_client()
    assert login(client).status_code == 302
    return client


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username, USER_PASSWORD).status_code == 302
    return client


def uid(run, username: str) -> int:
    return run("SELECT user_id FROM users WHERE username = :u", u=username)[0][0]


def test_teams_are_added_edited_shown_and_deleted_with_their_members(boss, run):
    mgr, rep, other = (uid(run, u) for u in ("mgr", "rep", "other"))
    page = boss.get("/teams/add")
    assert page.status_code == 200 and 'name="members"' in page.get_data(as_text=True)
    response = post_form(boss, "/teams/add", {"name": "South", "leader": str(other), "members": [str(other)]})
    assert response.status_code == 302, response.get_data(as_text=True)
    (team, leader), = run("SELECT team_id, leader_id FROM teams WHERE name = 'South'")
    assert leader == other and run("SELECT team_id FROM users WHERE user_id = :u", u=other)[0][0] == team
    listing = boss.get("/teams/list/?q=sou").get_data(as_text=True)
    assert "South" in listing and "Olga Other" in listing and "North" not in listing
    # a member chosen here leaves their former team; the users screen shows and sets the team
    assert post_form(boss, f"/teams/edit/{team}", {"name": "South", "leader": str(other),
                                                    "members": [str(other), str(rep)]}).status_code == 302
    assert run("SELECT t.name FROM users u JOIN teams t USING (team_id) WHERE u.user_id = :u", u=rep)[0][0] == "South"
    assert "South" in boss.get(f"/users/show/{rep}").get_data(as_text=True)
    north = run("SELECT team_id FROM teams WHERE name = 'North'")[0][0]
    form = boss.get(f"/users/edit/{rep}").get_data(as_text=True)
    fields = {k: v for k, v in re.findall(r'name="(username|first_name|last_name|email)"[^>]*value="([^"]*)"', form)}
    role = run("SELECT role_id FROM users WHERE user_id = :u", u=rep)[0][0]
    response = post_form(boss, f"/users/edit/{rep}", {**fields, "role": str(role), "team": str(north),
                                                      "active": "y"})
    assert response.status_code == 302, flashes(boss)
    assert run("SELECT team_id FROM users WHERE user_id = :u", u=rep)[0][0] == north
    assert "South" in boss.get("/users/list/").get_data(as_text=True)  # the Team column
    assert post_form(boss, f"/teams/delete/{team}", {}, form_url="/teams/list/").status_code == 302
    assert run("SELECT team_id FROM users WHERE user_id = :u", u=other)[0][0] is None  # left without a team
    assert run("SELECT count(*) FROM logs WHERE table_name = 'users' AND action = 'update users' "
               "AND description LIKE '%team_id%'")[0][0] >= 3
    assert mgr  # the module's team is untouched
    assert run("SELECT count(*) FROM users WHERE team_id = :t", t=north)[0][0] == 2


def test_owner_in_list_show_form_filter_lookup_export_and_api(boss, run, owned_app):
    rep = uid(run, "rep")
    listing = boss.get(f"/customers/list/?_flt_0_owner={rep}").get_data(as_text=True)
    assert "Owner" in listing and "Ray Rep" in listing and ">R1<" in listing and ">M1<" not in listing
    assert "Owner" in listing.split("crm-chips", 1)[1][:600]  # the filter is a chip
    found = boss.get("/customers/lookup/users/?q=ray").get_json()["results"]
    assert [o["id"] for o in found] == [rep] and "North" in found[0]["text"]
    # added without choosing: the creator owns it; the form offers the signed-in user first
    assert "admin" in boss.get("/customers/add").get_data(as_text=True).split('name="owner"', 1)[1][:400]
    assert post_form(boss, "/customers/add", {"name": "Added here", "owner": ""}).status_code == 302
    assert run("SELECT u.username FROM customers c JOIN users u ON u.user_id = c.owner_id "
               "WHERE c.name = 'Added here'")[0][0] == "admin"
    key = run("SELECT customer_id FROM customers WHERE name = 'Added here'")[0][0]
    show = boss.get(f"/customers/show/{key}").get_data(as_text=True)
    assert "Owner" in show
    # change the owner: audited, and the History says it with names
    edit = boss.get(f"/customers/edit/{key}").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', edit)[1]
    assert post_form(boss, f"/customers/edit/{key}", {"name": "Added here", "owner": str(rep),
                                                      "version": version}).status_code == 302
    change, = run("SELECT description FROM logs WHERE action = 'update customers' AND record_key = :k", k=str(key))
    assert json.loads(change[0])["changes"]["owner_id"][1] == rep
    history = boss.get(f"/customers/show/{key}").get_data(as_text=True)
    assert re.search(r"changed Owner from \w+ \w+ to Ray Rep", history), history[-3000:]
    export = boss.get(f"/customers/export/?_flt_0_owner={rep}").get_data(as_text=True)
    assert "owner_id" in export.splitlines()[0].lower() or "Owner" in export.splitlines()[0]
    with owned_app.app_context():
        api = boss.get(f"/api/v1/customers/{key}").get_json()["result"]
    assert api["owner_id"] == rep


def test_bulk_set_offers_the_owner_and_audits_each_row(boss, run):
    other = uid(run, "other")
    keys = [r[0] for r in run("INSERT INTO customers (name) VALUES ('Bulk A'), ('Bulk B') RETURNING customer_id")]
    args = "ids=" + ",".join(str(k) for k in keys)
    page = boss.get(f"/customers/bulk/set?{args}")
    assert page.status_code == 200 and 'value="owner"' in page.get_data(as_text=True)
    token = csrf_token(boss, f"/customers/bulk/set?{args}&field=owner")
    response = boss.post(f"/customers/bulk/set?{args}&field=owner", data={"csrf_token": token, "field": "owner",
                                                                                   "owner": str(other), "expected": "2"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert {r[0] for r in run("SELECT owner_id FROM customers WHERE customer_id = ANY(:k)", k=keys)} == {other}
    assert run("SELECT count(*) FROM logs WHERE action = 'update customers' AND record_key = ANY(:k) "
               "AND description LIKE '%owner_id%'", k=[str(k) for k in keys])[0][0] == 2


def test_permission_matrix_saves_a_role_scope_per_table(boss, run):
    role = run("SELECT role_id FROM roles WHERE role_name = 'Sales Rep'")[0][0]
    page = boss.get(f"/permission-matrix/role/{role}").get_data(as_text=True)
    assert 'name="scope:customers"' in page and 'name="scope:service_tickets"' in page
    token = csrf_token(boss, f"/permission-matrix/role/{role}")
    cells = re.findall(r'name="cell" value="([^"]+)"', page)
    data = {"csrf_token": token, "cell": cells, "scope:leads": "team", "scope:customers": "own",
            "scope:bogus": "all", "scope:opportunities": "everything"}
    data.update({f"was:{c}": s for c, s in re.findall(r'name="was:([^"]+)" value="([^"]+)"', page)})
    data["grant"] = re.findall(r'name="grant" value="([^"]+)"\s+aria-label="[^"]*"\s+checked', page)
    response = boss.post(f"/permission-matrix/role/{role}", data=data)
    assert response.status_code == 302
    scopes = dict(run("SELECT table_name, scope FROM role_data_scopes WHERE role_id = :r", r=role))
    assert scopes["leads"] == "team" and scopes.get("customers", "own") == "own"
    assert scopes.get("opportunities", "own") == "own"  # an unknown scope changes nothing
    assert run("SELECT count(*) FROM logs WHERE table_name = 'role_data_scopes'")[0][0] >= 1
    assert 'value="team" selected' in boss.get(f"/permission-matrix/role/{role}").get_data(as_text=True)
    run("UPDATE role_data_scopes SET scope = 'own' WHERE role_id = :r", r=role)


def test_lists_and_board_open_on_mine_with_a_switch_the_scope_allows(owned_app, run):
    mgr, rep = uid(run, "mgr"), uid(run, "rep")
    north = run("SELECT team_id FROM teams WHERE name = 'North'")[0][0]
    manager = signed_in(owned_app, "mgr")
    opened = manager.get("/customers/list/")
    assert opened.status_code == 302
    target = urlsplit(opened.headers["Location"])
    assert parse_qs(target.query) == {"_flt_0_owner": [str(mgr)]}
    page = manager.get(f"{target.path}?{target.query}").get_data(as_text=True)
    switch = page.split("crm-owner-switch", 1)[1].split("</div>", 1)[0]
    assert 'data-choice="own"' in switch and 'data-choice="team"' in switch
    assert 'data-choice="all"' not in switch  # a team scope: no "All"
    assert "Mia Manager" in page.split("crm-chips", 1)[1][:800]  # "Mine" is a filter chip
    team_url = re.search(r'href="([^"]+)"\s+data-choice="team"', switch)[1].replace("&amp;", "&")
    team_page = manager.get(team_url).get_data(as_text=True)
    assert parse_qs(urlsplit(team_url).query) == {"_flt_2_owner": [str(north)]}
    assert "North" in team_page.split("crm-chips", 1)[1][:800]
    assert ">R1<" in team_page and ">M1<" in team_page and ">O1<" not in team_page
    board = manager.get("/pipeline/")
    assert board.status_code == 302 and parse_qs(urlsplit(board.headers["Location"]).query) == {"owner": [str(mgr)]}
    assert 'data-choice="team"' in manager.get(f"/pipeline/?team={north}").get_data(as_text=True)
    assert manager.get("/pipeline/?team=abc").status_code == 400
    # a default view the user saved still wins over "Mine"
    token = csrf_token(manager, "/customers/list/?view=all")
    assert manager.post("/customers/views/save", data={"csrf_token": token, "name": "Mine by R", "args": "q=R",
                                                       "cols": "", "role_id": "", "is_default": "1"}).status_code < 400
    assert "sv=" in manager.get("/customers/list/").headers["Location"]
    # an own-scope rep: no switch, no redirect
    plain = signed_in(owned_app, "rep")
    assert plain.get("/customers/list/").status_code == 200
    assert "crm-owner-switch" not in plain.get("/customers/list/").get_data(as_text=True)
    # a rep may not give a new record away: the database refuses, the form says so, nothing is saved
    other = uid(run, "other")
    refused = post_form(plain, "/customers/add", {"name": "Given away", "owner": str(other)})
    assert refused.status_code in (200, 302, 400) and not run("SELECT 1 FROM customers WHERE name = 'Given away'")
    assert post_form(plain, "/customers/add", {"name": "Kept", "owner": str(rep)}).status_code == 302
    assert run("SELECT owner_id FROM customers WHERE name = 'Kept'")[0][0] == rep


def test_the_owner_filter_in_team_picks_a_team_by_ajax(owned_app, run):
    """"is in team" offers teams (the screen's /lookup/teams/), and an active one shows the team's name."""
    north = run("SELECT team_id FROM teams WHERE name = 'North'")[0][0]
    manager = signed_in(owned_app, "mgr")
    found = manager.get("/customers/lookup/teams/?q=nor").get_json()["results"]
    assert found == [{"id": north, "text": "North"}]
    assert manager.get("/customers/lookup/teams/?q=zzz").get_json()["results"] == []

    def owner_field(url: str) -> str:
        """The owner filter's value field, as FAB's filter script receives it."""
        page = manager.get(url).get_data(as_text=True)
        return json.loads(re.search(r"new AdminFilters\(\s*'#filter_form',\s*.*?,\s*(\{.*?\}),\n", page, re.S)[1])[
            "owner"]

    owner = owner_field(f"/customers/list/?_flt_2_owner={north}")
    assert 'data-team-op="2"' in owner and 'data-team-endpoint="/customers/lookup/teams/"' in owner
    assert f'<option value="{north}" data-kind="team">North</option>' in owner
    assert 'data-kind="row"' not in owner  # no user is filtered on: none offered
    mgr = uid(run, "mgr")
    mine = owner_field(f"/customers/list/?_flt_0_owner={mgr}")
    assert f'<option value="{mgr}" data-kind="row">Mia Manager (mgr)' in mine  # a user still picks a user
