"""Issue #19 point 6: a record's History panel in words, in English and Chinese, amounts by role."""
from __future__ import annotations

import re

import pytest

from tests.support.client import login, post_form, switch_language
from tests.support.htmlforms import form_fields
from tests.support.permissions import role_with
from tests.support.users import ROLE_PASSWORD


def history_text(client, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    panel = page[page.index('id="history"'):]
    return " ".join(re.sub(r"<[^>]+>", " ", panel).split())


def _edit(client, url: str, **changes) -> None:
    fields = form_fields(client.get(url).get_data(as_text=True))
    fields.update(changes)
    response = post_form(client, url, fields)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]


@pytest.fixture
def deal(admin, sql):
    """An opportunity created and changed by Wang Li (王 丽) through the screens."""
    (customer,), = sql("INSERT INTO customers (name) VALUES ('Acme 顶峰') RETURNING customer_id")
    sql("UPDATE users SET first_name = '丽', last_name = '王' WHERE username = 'admin'")
    response = post_form(admin, "/opportunities/add", {
        "customer": str(customer), "name": "Big deal", "stage": "proposal", "value": "12,500,000"})
    assert response.status_code == 302
    (deal,), = sql("SELECT opportunity_id FROM opportunities WHERE name = 'Big deal'")
    _edit(admin, f"/opportunities/edit/{deal}", stage="won", value="13,000,000.50")
    return deal


def test_history_reads_as_sentences_in_english(admin, deal):
    text = history_text(admin, f"/opportunities/show/{deal}")
    assert "王丽 created this opportunity" in text
    assert "王丽 changed Stage from Proposal to Won" in text
    assert "王丽 changed Value from 12,500,000.00 to 13,000,000.50" in text
    for internal in ("via", "db_role", "value_band", "version", "updated_at", "opportunity_id", "\\x", "{"):
        assert internal not in text, internal


def test_history_reads_as_sentences_in_chinese(admin, deal):
    switch_language(admin, "zh")
    text = history_text(admin, f"/opportunities/show/{deal}")
    assert "王丽创建了此销售机会" in text
    assert "王丽将阶段从“提案”改为“赢单”" in text
    assert "王丽将预估价值从“12,500,000.00”改为“13,000,000.50”" in text
    assert "创建" in text and "修改" in text  # the action names
    assert "insert" not in text and "update" not in text


def test_related_rows_by_name_with_one_query_per_table(admin, sql):
    (first,), = sql("INSERT INTO customers (name) VALUES ('First Co') RETURNING customer_id")
    (second,), = sql("INSERT INTO customers (name) VALUES ('Second Co') RETURNING customer_id")
    (contact,), = sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'John', 'Brown') "
                      "RETURNING contact_id", c=first)
    _edit(admin, f"/contacts/edit/{contact}", customer=str(second))
    text = history_text(admin, f"/contacts/show/{contact}")
    assert "changed Customer from First Co to Second Co" in text
    assert "customer_id" not in text


@pytest.mark.parametrize("lang, hidden", [("en", "hidden"), ("zh", "已隐藏")])
def test_amounts_are_hidden_from_a_role_that_may_not_read_them(app, client, admin, deal, sql, lang, hidden):
    # a role that reads the log but not opportunities: the log's list says "hidden", never the ciphertext
    role_with(app, sql, "Log Reader", "logreader", {"LogView": ("can_list", "can_show")})
    reader = app.test_client()
    login(reader, "logreader", ROLE_PASSWORD)
    switch_language(reader, lang)
    switch_language(admin, lang)
    url = f"/logs/list/?_flt_0_table_name=opportunities&_flt_0_record_key={deal}"
    seen = reader.get(url).get_data(as_text=True)
    assert hidden in seen and "13,000,000.50" not in seen and "\\x" not in seen
    assert "13,000,000.50" in admin.get(url).get_data(as_text=True)


def test_amount_rule_reads_the_screen_map_built_at_start_up(app, admin, deal, monkeypatch):
    """History, the log list and the column chooser share one rule, on a table → screen map built once."""
    from app.security.amounts import EXTENSION

    screens = app.extensions[EXTENSION]
    assert screens["opportunities"] == "OpportunityView" and screens["customers"] == "CustomerView"
    logs_url = f"/logs/list/?_flt_0_table_name=opportunities&_flt_0_record_key={deal}"
    assert "13,000,000.50" in admin.get(logs_url).get_data(as_text=True)
    assert admin.get("/opportunities/list/?cols=name,value").status_code == 200  # the column chooser
    # the map decides: opportunities' amounts behind a screen nobody may open
    monkeypatch.setitem(screens, "opportunities", "NoSuchView")
    text = history_text(admin, f"/opportunities/show/{deal}")
    assert "王丽 changed Value" in text and "13,000,000.50" not in text
    assert "13,000,000.50" not in admin.get(logs_url).get_data(as_text=True)
    assert admin.get("/opportunities/list/?cols=name,value").status_code == 400
