"""Chinese and English in a real browser: the top bar's language menu, remembered per user; the CRUD path."""
from __future__ import annotations


import pytest

from tests.support.apps import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

# what a user reads on the customer screens, per language
TEXTS = {
    "en": {"menu": "Customers", "add": "Add customer", "name": "Name", "industry": "Industry",
           "location": "Location", "edit": "Edit customer", "added": "Added Row", "changed": "Changed Row",
           "deleted": "Deleted Row", "search": "Search"},
    "zh": {"menu": "客户", "add": "新建客户", "name": "客户名称", "industry": "所属行业",
           "location": "地理位置", "edit": "编辑客户", "added": "记录已添加", "changed": "记录已更新",
           "deleted": "记录已删除", "search": "搜索"},
}


def label_text(page, field: str) -> str:
    return " ".join(page.page.inner_text(f"label[for={field}]").split()).rstrip("*").strip()


def test_language_switch_in_the_top_bar_is_remembered_per_user(browser_page, sql):
    page = browser_page
    page.login("admin", ADMIN_PASSWORD)
    assert "Analytics" in page.page.inner_text(".navbar")
    page.choose_language("zh")
    assert "分析" in page.page.inner_text(".navbar") and "简体中文" in page.page.inner_text("#crm-language-menu")
    page.page.reload()
    assert "分析" in page.page.inner_text(".navbar")
    assert sql("SELECT locale FROM users WHERE username = 'admin'") == [("zh",)]
    page.goto("/logout/")
    page.page.wait_for_load_state("networkidle")
    assert "登录" in page.page.content()  # the language stays after signing out
    page.goto("/login/")
    assert "用户名" in page.page.content()
    page.page.context.clear_cookies()  # a new browser session: only the user's stored choice is left
    page.login("admin", ADMIN_PASSWORD)
    assert "分析" in page.page.inner_text(".navbar")
    page.goto("/customers/list/")
    assert page.page.inner_text("h4.panel-title, .panel-title").strip().startswith("客户")
    page.choose_language("en")
    assert "Analytics" in page.page.inner_text(".navbar")
    assert sql("SELECT locale FROM users WHERE username = 'admin'") == [("en",)]
    page.assert_clean()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_customer_crud_path_in_each_language(browser_page, sql, lang):
    page, text = browser_page, TEXTS[lang]
    name = f"浏览器 CRUD {lang}"
    page.sign_in("admin", ADMIN_PASSWORD, lang)  # English is the browser's language
    page.goto("/customers/list/")
    assert text["menu"] in page.page.inner_text(".panel-title")
    page.goto("/customers/add")
    assert text["add"] in page.page.inner_text(".panel-title")
    assert (label_text(page, "name"), label_text(page, "industry"), label_text(page, "location")) == \
        (text["name"], text["industry"], text["location"])
    page.page.fill("input[name=name]", name)
    page.page.select_option("select[name=industry]", "Retail", force=True)  # a documented value
    page.page.fill("input[name=revenue]", "1234567.5")
    page.page.click("button[type=submit]")
    page.page.wait_for_load_state("networkidle")
    assert text["added"] in page.page.content()
    [(cid,)] = sql("SELECT customer_id FROM customers WHERE name = :n", n=name)

    page.page.fill("#crm-topbar-search input[name=q]", "CRUD " + lang)
    page.page.press("#crm-topbar-search input[name=q]", "Enter")
    page.page.wait_for_load_state("networkidle")
    assert text["search"] in page.page.inner_text("h1")
    page.page.click(f".crm-search-hit a[href='/customers/show/{cid}']")
    page.page.wait_for_load_state("networkidle")
    assert "1,234,567.50" in page.page.content()

    page.goto(f"/customers/edit/{cid}")
    assert text["edit"] in page.page.inner_text(".panel-title") and label_text(page, "name") == text["name"]
    page.page.fill("input[name=location]", "上海 Shanghai")
    page.page.click("button[type=submit]")
    page.page.wait_for_load_state("networkidle")
    assert text["changed"] in page.page.content()
    assert sql("SELECT location FROM customers WHERE customer_id = :c", c=cid) == [("上海 Shanghai",)]

    page.goto(f"/customers/list/?_flt_0_name={cid}".replace(str(cid), "CRUD%20" + lang))
    page.confirm_delete(f"[id^='btn-delete-'][id*='/customers/delete/{cid}']")
    assert text["deleted"] in page.page.content()
    assert sql("SELECT count(*) FROM customers WHERE customer_id = :c", c=cid) == [(0,)]
    page.screenshot(f"customer-crud-{lang}")
    page.assert_clean()
