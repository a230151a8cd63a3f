"""The dashboard per period, owner and team, within each user's data scope, from the pre-aggregated facts.

One prepared instance for the module: rep_a and manager_a in team A, rep_b in team B, the admin;
records of each rep (and a few unowned ones) at known dates, then one `generate()` (snapshots
and facts). Each user sees the KPI cards of exactly their scope; an owner or team outside it is
a 404; bad filters are a 400; the facts agree with live counts and hold no plaintext money.
"""
from __future__ import annotations

import datetime as dt
import html
import os
import re
from decimal import Decimal
from typing import Iterator

import pytest
from sqlalchemy import text

from tests.support.apps import team_instance
from tests.support.client import login
from tests.support.pages import page_charts
from tests.support.users import ROLE_PASSWORD, user_actor, as_admin, sql_as

USERS = {"rep_a": "Sales Rep", "rep_b": "Sales Rep", "manager_a": "Sales Manager"}
TEAMS = {"rep_a": "Team A", "manager_a": "Team A", "rep_b": "Team B"}
TODAY = dt.datetime.now(dt.UTC).date()
AGO = lambda days: TODAY - dt.timedelta(days=days)  # noqa: E731
OLD = AGO(400)  # before any "last 12 months"; in the period before a 250-day range ending today
INDUSTRIES = ["Retail", "Finance", "Energy", "Logistics", "Healthcare", "Education", "Technology", "Manufacturing"]


@pytest.fixture(scope="module")
def world(pg) -> Iterator[dict]:
    # the dates the data and the tests use, from when the data is made: the database dates some records
    # now(), and a suite that passes midnight (UTC) between collecting this module and running it gave
    # them tomorrow's date, outside the windows that ended on the day of collection
    global TODAY, OLD
    TODAY = dt.datetime.now(dt.UTC).date()
    OLD = AGO(400)
    with team_instance(pg, f"crm_test_dashboard_filters_{os.getpid()}", USERS, TEAMS) as (app, owner):
        yield from _records(app, owner)


def _records(app, owner) -> Iterator[dict]:
    from app.extensions import db
    from app.models import Activity, Customer, Lead, Opportunity, ServiceTicket
    from app.reports.generators import generate

    with owner.connect() as conn:
        ids = dict(conn.execute(text("SELECT username, user_id FROM users")).all())
        teams = dict(conn.execute(text("SELECT name, team_id FROM teams")).all())
    with as_admin(app):
        a = Customer(name="Alpha", industry="Retail", revenue=Decimal("1000"), owner_id=ids["rep_a"])
        b = Customer(name="Beta", industry="Finance", revenue=Decimal("2000"), owner_id=ids["rep_b"])
        spread = [Customer(name=f"Unowned {i}", industry=industry, revenue=Decimal(10 + i), owner_id=None)
                  for i, industry in enumerate(INDUSTRIES)]
        db.session.add_all([a, b, *spread])
        db.session.flush()
        db.session.add_all([
            Opportunity(customer=a, name="A won", stage="won", value=Decimal("500"), close_date=AGO(5),
                        owner_id=ids["rep_a"]),
            Opportunity(customer=a, name="A lost", stage="lost", value=Decimal("50"), close_date=AGO(3),
                        owner_id=ids["rep_a"]),
            Opportunity(customer=a, name="A open", stage="proposal", value=Decimal("300"), close_date=AGO(1),
                        owner_id=ids["rep_a"]),
            Opportunity(customer=a, name="A old win", stage="won", value=Decimal("200"), close_date=OLD,
                        owner_id=ids["rep_a"]),
            Opportunity(customer=b, name="B won", stage="won", value=Decimal("700"), close_date=AGO(4),
                        owner_id=ids["rep_b"]),
            *[Lead(source="web", status=s, owner_id=ids["rep_a"]) for s in ("new", "following up", "lost")],
            Lead(source="web", status="new", owner_id=ids["rep_b"]),
            ServiceTicket(customer=a, subject="A urgent", priority="urgent", owner_id=ids["rep_a"]),
            ServiceTicket(customer=a, subject="A low", priority="low", owner_id=ids["rep_a"]),
            ServiceTicket(customer=b, subject="B high", priority="high", owner_id=ids["rep_b"]),
            Activity(customer=a, type="call", subject="A call", activity_date=dt.datetime.combine(AGO(2), dt.time(9))),
        ])
        db.session.commit()
    with owner.begin() as conn:  # dates the app does not let one set: when a record was created
        conn.execute(text("UPDATE opportunities SET created_at = close_date - 10 WHERE stage = 'won'"))
        conn.execute(text("UPDATE service_tickets SET created_at = now() - interval '3 days' WHERE subject = 'A urgent'"))
        conn.execute(text("UPDATE customers SET created_at = now() - interval '2 days'"))
    with app.app_context():
        generate()
        db.session.remove()
    yield {"app": app, "owner": owner, "ids": ids, "teams": teams, "clients": {}}


def client_of(world: dict, username: str):
    from tests.support.apps import ADMIN_PASSWORD

    if username not in world["clients"]:
        client = world["app"].test_client()
        assert login(client, username, ADMIN_PASSWORD if username == "admin" else ROLE_PASSWORD).status_code == 302
        world["clients"][username] = client
    return world["clients"][username]


def kpis(page: str) -> dict[str, str]:
    """{kpi key: the card's figure as shown}."""
    found = re.findall(r'data-kpi="(\w+)">.*?<div class="h3[^"]*"[^>]*>(?:<a href="[^"]*">)?([^<]*)', page, re.S)
    return {key: value.strip() for key, value in found}


def get(world: dict, username: str, query: str = ""):
    return client_of(world, username).get(f"/dashboard/?{query}")


@pytest.mark.parametrize(("username", "won", "count"), [
    ("admin", "1,200", "2"), ("rep_a", "500", "1"), ("rep_b", "700", "1"), ("manager_a", "500", "1")])
def test_each_user_sees_the_figures_of_their_scope(world, username, won, count):
    response = get(world, username, "period=12m")
    assert response.status_code == 200
    cards = kpis(response.get_data(as_text=True))
    assert (cards["won_value"], cards["won_count"]) == (won, count)


@pytest.mark.parametrize(("username", "target", "status"), [
    ("rep_a", "owner=rep_b", 404), ("rep_a", "team=Team A", 404), ("rep_a", "owner=rep_a", 200),
    ("manager_a", "owner=rep_b", 404), ("manager_a", "team=Team B", 404), ("manager_a", "team=Team A", 200),
    ("manager_a", "owner=rep_a", 200), ("admin", "team=Team B", 200), ("admin", "owner=999999", 404)])
def test_an_owner_or_team_outside_the_scope_is_not_found(world, username, target, status):
    kind, name = target.split("=")
    key = world["ids"].get(name) if kind == "owner" else world["teams"][name]
    response = get(world, username, f"period=year&{kind}={key or name}")
    assert response.status_code == status
    if status == 404:
        assert "700" not in response.get_data(as_text=True)


def test_admin_narrows_to_a_team_or_an_owner_and_compares_with_the_previous_period(world):
    team_b = kpis(get(world, "admin", f"period=12m&team={world['teams']['Team B']}").get_data(as_text=True))
    assert team_b["won_value"] == "700"
    span = f"period=custom&from={AGO(249)}&to={TODAY}"
    page = get(world, "admin", f"{span}&owner={world['ids']['rep_a']}").get_data(as_text=True)
    assert kpis(page)["won_value"] == "500"
    assert "+150%" in page  # 500 won in these 250 days against the old win's 200 in the 250 before
    assert kpis(page)["win_rate"] == "50%"  # one won, one lost


@pytest.mark.parametrize("query", ["period=decade", "period=custom&from=2026-05-02&to=2026-05-01",
                                   "from=yesterday&to=2026-01-01", "owner=abc", "period=custom&from=2026-01-01"])
def test_bad_filters_are_a_400_with_the_reason(world, query):
    response = get(world, "admin", query)
    assert response.status_code == 400
    assert "crm-filter-problem" in response.get_data(as_text=True)


def test_custom_range_reads_days_and_the_cards_link_to_their_lists(world):
    start = AGO(5).isoformat()
    page = get(world, "rep_a", f"period=custom&from={start}&to={AGO(5).isoformat()}").get_data(as_text=True)
    assert kpis(page)["won_value"] == "500" and kpis(page)["open_value"] == "0"
    link = html.unescape(re.search(r'data-kpi="won_value">.*?<a href="([^"]+)"', page, re.S).group(1))
    listed = client_of(world, "rep_a").get(link).get_data(as_text=True)
    assert "A won" in listed and "A old win" not in listed


def test_tickets_past_their_window_and_honest_charts(world):
    page = get(world, "rep_a", f"period=custom&from={AGO(10)}&to={TODAY}").get_data(as_text=True)
    cards = kpis(page)
    assert (cards["open_tickets"], cards["late_tickets"]) == ("2", "1")  # urgent after 3 days; low after 0
    charts = {c["name"].split(":")[0]: c for c in page_charts(get(world, "admin", "period=12m").get_data(as_text=True))}
    funnel = [int(r[1]) for r in charts["Lead funnel"]["rows"][1:]]  # the data table, header first
    assert funnel == sorted(funnel, reverse=True) and funnel[0] == 4
    donut = charts["Customer revenue by industry"]
    # six industries and "other", which links nowhere: one mark fewer than slices
    assert len(donut["rows"]) - 1 == 7 and len(donut["marks"]) == 6
    weeks = charts["Activities by type"]
    assert [r[0] for r in weeks["rows"][1:]] == [f"{AGO(2):%Y-%m}"]  # one month with data: the axis is that month


def test_facts_agree_with_live_counts_and_hold_no_plain_money(world):
    from app.extensions import db

    with world["owner"].connect() as conn:
        live = dict(conn.execute(text("SELECT stage, count(*) FROM opportunities GROUP BY 1")).all())
        for grain in ("d", "m"):
            facts = dict(conn.execute(text("SELECT k1, sum(n) FROM dashboard_facts WHERE metric = 'opportunities' "
                                           "AND grain = :g AND holder = -1 GROUP BY 1"), {"g": grain}).all())
            assert facts == live
        by_owner = conn.scalar(text("SELECT sum(n) FROM dashboard_facts WHERE metric = 'leads' AND grain = 'd' "
                                    "AND holder >= 0"))
        assert by_owner == conn.scalar(text("SELECT count(*) FROM leads"))
        # each team's rows (holder -1 - team id) are its members' sums
        by_team = dict(conn.execute(text("SELECT -1 - holder, sum(n) FROM dashboard_facts WHERE metric = 'leads' "
                                         "AND grain = 'm' AND holder < -1 GROUP BY 1")).all())
        members = dict(conn.execute(text("SELECT u.team_id, count(*) FROM leads JOIN users u ON u.user_id = owner_id "
                                         "GROUP BY 1")).all())
        assert by_team == members and set(by_team) == {world["teams"]["Team A"], world["teams"]["Team B"]}
        blobs = conn.execute(text("SELECT amount FROM dashboard_facts WHERE amount IS NOT NULL")).scalars().all()
        # the refresh's progress: every report and every fact metric a step, all done
        step, steps, done = conn.execute(text("SELECT step, steps, finished_at >= built_at FROM dashboard_refresh")).one()
        assert step == steps == 13 and done
    assert blobs and not any(b"500" in bytes(b) or b"1200" in bytes(b) for b in blobs)
    seen = sql_as(world["app"], "rep_a")("SELECT DISTINCT holder FROM dashboard_facts")
    assert {h for h, in seen} == {world["ids"]["rep_a"]}
    # a team's (and the company's) sums are only for scope "all": not even the team's own manager reads them
    seen = sql_as(world["app"], "manager_a")("SELECT DISTINCT holder FROM dashboard_facts")
    assert {h for h, in seen} == {world["ids"]["rep_a"], world["ids"]["manager_a"]} & {h for h, in seen}
    assert seen and min(h for h, in seen) > 0
    with world["app"].app_context():
        db.session.remove()


def test_a_team_is_read_from_its_rows_until_its_members_change(world):
    from app.audit.context import acting_as
    from app.extensions import db
    from app.reports.dashboard_filters import Filters, Sight

    team_a, query = world["teams"]["Team A"], f"period=12m&team={world['teams']['Team A']}"
    admin = user_actor(world["app"])

    def holders() -> list[int]:
        with world["app"].test_request_context(), acting_as(admin):
            found = Sight.of(Filters.from_args({"team": str(team_a)}, TODAY)).holders["opportunities"]
            db.session.remove()
            return found

    assert holders() == [-1 - team_a]  # the team's own rows: one per group
    assert kpis(get(world, "admin", query).get_data(as_text=True))["won_value"] == "500"
    move = "UPDATE users SET team_id = :team WHERE username = 'rep_b'"
    with world["owner"].begin() as conn:
        conn.execute(text(move), {"team": team_a})
    try:  # rep_b joined team A after the build: its rows no longer hold, its members' rows are read
        assert holders() == sorted([world["ids"]["rep_a"], world["ids"]["manager_a"], world["ids"]["rep_b"]])
        assert kpis(get(world, "admin", query).get_data(as_text=True))["won_value"] == "1,200"
    finally:
        with world["owner"].begin() as conn:
            conn.execute(text(move), {"team": world["teams"]["Team B"]})
    assert holders() == [-1 - team_a]


@pytest.fixture(scope="module")
def contact_call(world) -> str:
    """An activity of customer Alpha's contact with no customer of its own: it follows the contact's."""
    from app.extensions import db
    from app.models import Activity, Contact, Customer

    with as_admin(world["app"]):
        alpha = db.session.scalars(db.select(Customer).where(Customer.name == "Alpha")).one()
        contact = Contact(first_name="Ann", last_name="Alpha", customer=alpha)
        db.session.add(Activity(contact=contact, type="call", subject="A contact call",
                                activity_date=dt.datetime.combine(AGO(2), dt.time(10))))
        db.session.commit()
        db.session.remove()
    return "A contact call"


@pytest.mark.parametrize("narrow", ["owner", "team"])
def test_activity_drill_links_carry_the_customers_owner_or_team(world, contact_call, narrow):
    key = world["ids"]["rep_a"] if narrow == "owner" else world["teams"]["Team A"]
    page = get(world, "admin", f"period=12m&{narrow}={key}").get_data(as_text=True)
    marks = {c["name"].split(":")[0]: c for c in page_charts(page)}["Activities by type"]["marks"]
    link = html.unescape(next(m["href"] for m in marks if m["href"]))
    assert re.search(rf"_flt_\d+_customer={key}(&|$)", link)
    listed = client_of(world, "admin").get(link).get_data(as_text=True)
    chip = re.search(r'crm-chip-op">(owned[^<]*)</span>\s*<strong class="crm-chip-value">([^<]*)', listed)
    assert "A call" in listed and contact_call in listed and chip and chip.groups() == (
        ("owned by", "rep_a User") if narrow == "owner" else ("owned in team", "Team A"))
    other = world["ids"]["rep_b"] if narrow == "owner" else world["teams"]["Team B"]
    elsewhere = client_of(world, "admin").get(re.sub(rf"customer={key}\b", f"customer={other}", link))
    assert elsewhere.status_code == 200 and "A call" not in elsewhere.get_data(as_text=True)
    assert contact_call not in elsewhere.get_data(as_text=True)


def test_a_view_is_drawn_once_per_build_of_the_facts(world):
    query = "period=12m"
    assert kpis(get(world, "admin", query).get_data(as_text=True))["won_count"] == "2"
    more = "UPDATE dashboard_facts SET n = n + :d WHERE metric = 'opportunities' AND k1 = 'won' AND holder = -1"
    with world["owner"].begin() as conn:
        conn.execute(text(more), {"d": 5})
    try:
        assert kpis(get(world, "admin", query).get_data(as_text=True))["won_count"] == "2"  # the same build
        with world["owner"].begin() as conn:
            conn.execute(text("UPDATE dashboard_refresh SET built_at = built_at + interval '1 second'"))
        assert kpis(get(world, "admin", query).get_data(as_text=True))["won_count"] == "7"  # a new one: read again
        assert kpis(get(world, "rep_b", query).get_data(as_text=True))["won_count"] == "1"  # a scope of its own
    finally:
        with world["owner"].begin() as conn:
            conn.execute(text(more), {"d": -5})
            conn.execute(text("UPDATE dashboard_refresh SET built_at = built_at + interval '1 second'"))
