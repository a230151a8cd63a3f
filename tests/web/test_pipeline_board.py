"""The pipeline board over HTTP: columns, totals, filters, bounded cards and sums; the move POST."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.support.client import csrf_token, login
from tests.support.screens import parents
from tests.support.users import ROLE_PASSWORD, make_role_user


def column(page: str, stage: str) -> str:
    return page.split(f'data-stage="{stage}"')[1].split("</section>")[0]


def total(section: str) -> tuple[int, str]:
    count = int(re.search(r'data-count="(\d+)"', section).group(1))
    shown = re.search(r'class="crm-sum"[^>]*>([^<]*)<', section).group(1).strip()
    return count, shown


@pytest.fixture
def deals(sql, add_rows):
    from app.models import Opportunity

    ids = parents(sql)
    retail = sql("INSERT INTO customers (name, industry) VALUES ('Shop 商店', 'Retail') RETURNING customer_id")[0][0]
    cid = int(ids["customer"])
    rows = add_rows(
        Opportunity,
        {"customer_id": cid, "name": "Alpha", "stage": "initial", "value": Decimal("500"), "close_date": "2027-01-10"},
        {"customer_id": cid, "name": "Beta", "stage": "initial", "value": Decimal("1500.50"), "close_date": "2027-03-01"},
        {"customer_id": retail, "name": "Gamma 零售", "stage": "proposal", "value": Decimal("25000"),
         "close_date": "2027-02-01"},
        {"customer_id": retail, "name": "Delta", "stage": "won", "value": Decimal("7"), "close_date": None},
    )
    return dict(zip(("alpha", "beta", "gamma", "delta"), rows))


def move(client, token, body, with_token=True):
    headers = {"X-CSRFToken": token} if with_token else {}
    return client.post("/pipeline/move", json=body, headers=headers)


def test_board_columns_totals_and_filters(admin, deals):
    page = admin.get("/pipeline/").get_data(as_text=True)
    assert total(column(page, "initial")) == (2, "2,000.50")
    assert total(column(page, "proposal")) == (1, "25,000.00")
    assert total(column(page, "lost")) == (0, "0.00")
    initial = column(page, "initial")
    assert initial.index("Beta") < initial.index("Alpha")  # newest close date first
    assert re.search(r"/static/crm/pipeline\.[0-9a-f]{12}\.js", page) and re.search(r'<li class="crm-card"[^>]*draggable="true"', page)
    retail = admin.get("/pipeline/?industry=retail").get_data(as_text=True)
    assert total(column(retail, "initial")) == (0, "0.00") and "Gamma 零售" in retail
    dated = admin.get("/pipeline/?close_from=2027-02-01&close_to=2027-12-31").get_data(as_text=True)
    assert total(column(dated, "initial")) == (1, "1,500.50") and "Delta" not in dated
    banded = admin.get("/pipeline/?band=4").get_data(as_text=True)  # 10K–100K: index 2; 4 = 1M–10M
    assert all(total(column(banded, s))[0] == 0 for s in ("initial", "proposal", "won"))
    assert total(column(admin.get("/pipeline/?band=2").get_data(as_text=True), "proposal")) == (1, "25,000.00")


@pytest.mark.parametrize("query, message", [
    ("close_from=2027-13-01", "not a valid date"),
    ("close_from=2027-05-01&close_to=2027-01-01", "the start is after the end"),
    ("band=99", "not one of the bands"),
    ("band=-1", "not one of the bands"),
    ("industry=" + "x" * 300, "at most 255 characters"),
])
def test_bad_filters_are_400_with_a_message(admin, deals, query, message):
    response = admin.get(f"/pipeline/?{query}")
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_cards_and_sums_are_bounded(admin, deals, sql, add_rows, monkeypatch):
    from app.sales import pipeline
    from app.models import Opportunity

    cid = sql("SELECT customer_id FROM customers WHERE name = 'Shop 商店'")[0][0]
    add_rows(Opportunity, *[{"customer_id": cid, "name": f"Bulk {i}", "stage": "qualification",
                             "value": Decimal(100 * i), "close_date": f"2027-04-{i:02d}"} for i in range(1, 6)])
    monkeypatch.setattr(pipeline, "CARDS_PER_STAGE", 3)
    monkeypatch.setattr(pipeline, "EXACT_SUM_CAP", 4)
    page = admin.get("/pipeline/").get_data(as_text=True)
    section = column(page, "qualification")
    assert [n for n in re.findall(r"Bulk (\d)", section)] == ["5", "4", "3"]
    assert "2 more" in section and re.search(r'href="/opportunities/list/\?_flt_\d+_stage=qualification"', section)
    # 5 values > cap 4, no report yet: an estimate from the 4 newest ids (500+400+300+200)/4 × 5
    assert total(section) == (5, "≈ 1,750.00") and "estimated from the 4 newest" in section
    from app.reports.generators import generate

    with admin.application.app_context():
        generate(["pipeline_by_stage"])
    section = column(admin.get("/pipeline/").get_data(as_text=True), "qualification")
    assert total(section) == (5, "1,500.00") and "report of" in section  # exact, from the snapshot
    filtered = column(admin.get("/pipeline/?industry=Retail").get_data(as_text=True), "qualification")
    assert "≈" in total(filtered)[1]  # a filter the report cannot answer: estimate again


def test_move_saves_the_stage_with_the_version(admin, deals, sql):
    token = csrf_token(admin, "/pipeline/")
    response = move(admin, token, {"opportunity": deals["alpha"], "stage": "negotiation", "version": 1})
    assert response.status_code == 200 and response.json == {"opportunity": deals["alpha"],
                                                              "stage": "negotiation", "version": 2}
    assert sql("SELECT stage, version FROM opportunities WHERE opportunity_id = :o", o=deals["alpha"]) == [
        ("negotiation", 2)]
    stale = move(admin, token, {"opportunity": deals["alpha"], "stage": "won", "version": 1})
    assert stale.status_code == 409 and "Someone else changed" in stale.json["error"]
    assert sql("SELECT stage, version FROM opportunities WHERE opportunity_id = :o", o=deals["alpha"]) == [
        ("negotiation", 2)]
    history = sql("SELECT description FROM logs WHERE table_name = 'opportunities' AND record_key = :k "
                  "AND action = 'update opportunities'", k=str(deals["alpha"]))
    assert len(history) == 1 and '"stage": ["initial", "negotiation"]' in history[0][0]


@pytest.mark.parametrize("body, status", [
    ({"opportunity": 1, "stage": "dreaming", "version": 1}, 400),
    ({"opportunity": "x", "stage": "won", "version": 1}, 400),
    ({"opportunity": 1, "stage": "won"}, 400),
    ({"opportunity": 1, "stage": "won", "version": True}, 400),
    ({"opportunity": 2**40, "stage": "won", "version": 1}, 400),
    ([1, 2], 400),
    ({"opportunity": 999999, "stage": "won", "version": 1}, 404),
])
def test_move_bad_input_is_4xx_json_and_changes_nothing(admin, deals, sql, body, status):
    token = csrf_token(admin, "/pipeline/")
    before = sql("SELECT opportunity_id, stage, version FROM opportunities ORDER BY 1")
    response = move(admin, token, body)
    assert response.status_code == status and response.json["error"]
    assert sql("SELECT opportunity_id, stage, version FROM opportunities ORDER BY 1") == before


def test_move_needs_csrf_and_a_json_body(admin, deals, sql):
    token = csrf_token(admin, "/pipeline/")
    assert move(admin, token, {"opportunity": deals["alpha"], "stage": "won", "version": 1},
                with_token=False).status_code == 400
    assert admin.post("/pipeline/move", data="not json", headers={"X-CSRFToken": token}).status_code == 400
    assert sql("SELECT stage FROM opportunities WHERE opportunity_id = :o", o=deals["alpha"]) == [("initial",)]


@pytest.mark.parametrize("role, sees, moves", [("Sales Rep", True, True), ("Sales Manager", True, True),
                                                ("Auditor", True, False), ("Support Agent", False, False)])
def test_board_and_move_permissions(app, deals, sql, role, sees, moves):
    client = app.test_client()
    username = make_role_user(app, role)
    # the deals are the user's own, so a Sales Rep's data scope ("own") reaches them
    sql("UPDATE opportunities SET owner_id = (SELECT user_id FROM users WHERE username = :u) "
        "WHERE opportunity_id = ANY(:ids)", u=username, ids=list(deals.values()))
    login(client, username, ROLE_PASSWORD)
    page = client.get("/pipeline/")
    assert (page.status_code == 200) == sees
    if sees:
        cards = re.findall(r'<li class="crm-card"[^>]*draggable="(\w+)"', page.get_data(as_text=True))
        assert cards and set(cards) == {"true" if moves else "false"}
    token = csrf_token(client, "/")
    version = sql("SELECT version FROM opportunities WHERE opportunity_id = :o", o=deals["alpha"])[0][0]
    response = move(client, token, {"opportunity": deals["alpha"], "stage": "won", "version": version})
    assert response.status_code == (200 if moves else 403)
    assert sql("SELECT stage FROM opportunities WHERE opportunity_id = :o",
               o=deals["alpha"]) == [("won" if moves else "initial",)]
