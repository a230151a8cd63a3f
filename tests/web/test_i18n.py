"""The UI in Simplified Chinese and English over HTTP: per-user choice, every key page translated, formats."""
from __future__ import annotations

import re

from tests.support.catalogs import english_ui_words
from tests.support.client import login, post_form, switch_language
from tests.support.pages import page_charts, visible_texts

# every screen an admin opens (not /logs/: its rows quote English data such as resource names) from the menu or the top bar, plus the forms
KEY_PAGES = ["/", "/customers/list/", "/customers/add", "/contacts/list/", "/leads/list/",
             "/opportunities/list/", "/activities/list/", "/tickets/list/", "/tickets/add",
             "/reports/list/", "/dashboard/", "/search/?q=acme", "/permission-matrix/",
             "/users/list/", "/roles/list/", "/users/add", "/users/userinfo/", "/resetmypassword/form",
             "/permission-matrix/role/1", "/permission-matrix/user/?username=admin",
             "/pipeline/", "/customers/import/", "/contacts/import/", "/leads/import/"]


# data, not UI: the Admin role's name and the admin's name ("Admin" "User") on the matrix, roles and
# users pages; the Admin menu is checked below
DATA_WORDS = {"Admin", "User"}


def test_every_key_page_in_chinese_has_no_english_ui_words_left(app, admin, add_rows):
    from app.models import Contact, Customer, Lead

    [cid] = add_rows(Customer, {"name": "Acme 测试", "industry": "Retail"})
    [contact] = add_rows(Contact, {"customer_id": cid, "first_name": "伟", "last_name": "王"})
    [lid] = add_rows(Lead, {"source": "展会", "contact_id": contact})
    switch_language(admin, "zh")
    english = english_ui_words()
    visitor = app.test_client()
    switch_language(visitor, "zh")
    login_page = visitor.get("/login/").get_data(as_text=True)
    assert "用户名" in login_page and not {t for t in visible_texts(login_page) if t in english}
    for url in KEY_PAGES + [f"/customers/show/{cid}", f"/customers/edit/{cid}", f"/leads/show/{lid}",
                            f"/leads/convert/{lid}"]:
        response = admin.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert '<html lang="zh"' in html or "客户" in html, url
        left = sorted({t for t in visible_texts(html) if t in english} - DATA_WORDS)
        assert left == [], f"{url}: English left in the Chinese UI: {left}"
    assert "系统管理" in admin.get("/").get_data(as_text=True)
    page = admin.get("/logs/list/").get_data(as_text=True)
    assert "操作类型" in page and "时间（UTC）" in page and "系统日志" in page


def test_chinese_labels_titles_and_menu(admin):
    switch_language(admin, "zh")
    page = admin.get("/customers/add").get_data(as_text=True)
    for label in ("客户名称", "所属行业", "地理位置", "年收入", "新建客户", "销售", "仪表板", "系统管理"):
        assert label in page, label
    page = admin.get("/leads/add").get_data(as_text=True)
    assert "来源" in page and ">新<" in page and "跟进中" in page  # documented values translated too
    switch_language(admin, "en")
    page = admin.get("/customers/add").get_data(as_text=True)
    assert "客户名称" not in page and re.search(r">\s*Name\s*<", page) and "Add customer" in page


def test_choice_is_stored_on_the_user_and_follows_them_to_a_new_session(app, admin, client, sql):
    assert sql("SELECT locale FROM users WHERE username = 'admin'") == [(None,)]
    switch_language(admin, "zh")
    assert sql("SELECT locale FROM users WHERE username = 'admin'") == [("zh",)]
    other = app.test_client()  # another browser, which asks for English
    login(other)
    assert "仪表板" in other.get("/", headers={"Accept-Language": "en-US,en"}).get_data(as_text=True)
    other.get("/logout/")
    login_page = other.get("/login/", headers={"Accept-Language": "en-US,en"}).get_data(as_text=True)
    assert "登录" in login_page  # the language stays after signing out
    switch_language(other, "en")  # signed out: only this browser's session changes
    assert sql("SELECT locale FROM users WHERE username = 'admin'") == [("zh",)]


def test_anonymous_visitors_get_their_browsers_language(client):
    zh = client.get("/login/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert "用户名" in zh and "密码" in zh
    en = client.get("/login/", headers={"Accept-Language": "de-DE,en;q=0.5"}).get_data(as_text=True)
    assert "Username" in en and "用户名" not in en


def test_unknown_language_is_refused(admin, sql):
    assert admin.get("/lang/xx").status_code == 404
    assert sql("SELECT locale FROM users WHERE username = 'admin'") == [(None,)]


def test_a_language_chosen_on_the_login_page_becomes_the_users(client, sql):
    switch_language(client, "zh")
    login(client)
    assert sql("SELECT locale FROM users WHERE username = 'admin'") == [("zh",)]


def test_form_errors_and_flash_messages_in_chinese(admin, sql):
    switch_language(admin, "zh")
    response = post_form(admin, "/contacts/add", {"first_name": "伟", "last_name": "王", "email": "not-an-email"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "不是有效的电子邮件地址。" in page
    page = admin.get("/customers/list/?page_CustomerView=x").get_data(as_text=True)
    assert "页码必须是 0 到" in page
    [(role_id,)] = sql("SELECT role_id FROM roles WHERE role_name = 'Sales Rep'")
    form = f"/permission-matrix/role/{role_id}"
    post_form(admin, form + "/clone", {"name": ""}, form_url=form)
    assert "请为新角色命名。" in admin.get(form).get_data(as_text=True)
    post_form(admin, form, {}, form_url=form)
    assert "角色 Sales Rep 已保存" in admin.get(form).get_data(as_text=True)


def test_dates_and_numbers_follow_the_language(admin, add_rows, sql):
    from decimal import Decimal

    from app.models import Customer, Opportunity

    [cid] = add_rows(Customer, {"name": "Format 格式", "revenue": Decimal("1234567.5")})
    [oid] = add_rows(Opportunity, {"customer_id": cid, "name": "Deal", "stage": "proposal",
                                   "value": Decimal("9876.5"), "close_date": __import__("datetime").date(2026, 3, 7)})
    sql("UPDATE customers SET created_at = '2026-03-07 14:05:09' WHERE customer_id = :c", c=cid)
    switch_language(admin, "en")
    page = admin.get(f"/customers/show/{cid}").get_data(as_text=True)
    assert "1,234,567.50" in page and "Mar 7, 2026, 14:05" in page
    page = admin.get(f"/opportunities/show/{oid}").get_data(as_text=True)
    assert "Mar 7, 2026" in page and "Proposal" in page
    switch_language(admin, "zh")
    page = admin.get(f"/customers/show/{cid}").get_data(as_text=True)
    assert "1,234,567.50" in page and "2026年3月7日 14:05" in page
    page = admin.get(f"/opportunities/show/{oid}").get_data(as_text=True)
    assert "2026年3月7日" in page and "提案" in page


def test_dashboard_charts_in_chinese(app, admin):
    runner = app.test_cli_runner()
    for _ in range(2):
        assert runner.invoke(args=["crm", "reports", "generate"]).exit_code == 0
    switch_language(admin, "zh")
    page = admin.get("/dashboard/").get_data(as_text=True)
    for title in ("各阶段销售管道", "赢单与丢单", "潜在客户漏斗", "未关闭工单时长", "在途商机金额", "最近 12 个月"):
        assert title in page, title
    generated = re.search(r"数据截至\s*<time[^>]*>([^<]*)</time>", page)
    assert generated and re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d UTC", generated.group(1)), page[page.find("数据截至"):][:200]
    pipeline = page_charts(page)[0]
    # each bar named in Chinese (its tooltip and accessible name), the table's header too
    assert [m["name"].split("：")[0].split(":")[0] for m in pipeline["marks"]][:3] == ["初始", "资格审查", "提案"]
    assert all("销售机会" in m["name"] for m in pipeline["marks"]) and pipeline["rows"][0] == ["类别", "价值"]
    history = admin.get("/dashboard/history/pipeline_by_stage").get_data(as_text=True)
    titles = [chart["name"].rsplit(": ", 1)[-1] for chart in page_charts(history)]
    assert titles == ["进行中的管道价值", "进行中的销售机会"] and "共 2 个快照" in history


def test_the_language_is_chosen_even_when_the_users_row_cannot_be_read_again(app):
    """A flash message written into the cookie after the database went away still gets a language.

    Seen under load with the database restarting: the user's row, expired by the error's
    rollback, was read again to find its language while the response was being finalised.
    """
    from flask import g
    from sqlalchemy.exc import OperationalError

    from app.i18n import select_locale

    class ExpiredUser:
        is_authenticated = True

        @property
        def locale(self):
            raise OperationalError("SELECT users.locale ...", {}, Exception("the database system is shutting down"))

    with app.test_request_context("/customers/add", headers={"Accept-Language": "zh-CN,zh;q=0.9"}):
        g._login_user = ExpiredUser()
        assert select_locale() == "zh"
