"""Lists operators live in (issue #19): the search box, filter chips, title links, record pages that act,
a 390 px wide phone, keyboard shortcuts; in English and Chinese."""
from __future__ import annotations

import pytest

from tests.support.apps import ADMIN_PASSWORD
from tests.support.users import USER_PASSWORD, add_user

pytestmark = pytest.mark.browser

TEXTS = {
    "en": {"search": "Search customers", "chip": "Search", "clear": "Clear all", "stage": "Stage",
           "delete": "Delete customer “Acme Ltd”?",
           "refused": "3 contacts, 2 opportunities and 1 activity still belong to Acme Ltd",
           "deleted": "Deleted Row", "edit": "Edit"},
    "zh": {"search": "搜索客户", "chip": "搜索", "clear": "全部清除", "stage": "阶段",
           "delete": "删除客户“Acme Ltd”？",
           "refused": "3 个联系人、2 个销售机会和 1 个活动仍属于 Acme Ltd",
           "deleted": "记录已删除", "edit": "编辑"},
}


def seed(sql) -> dict[str, int]:
    (acme,), = sql("INSERT INTO customers (name, industry) VALUES ('Acme Ltd', 'Retail') RETURNING customer_id")
    (globex,), = sql("INSERT INTO customers (name, industry) VALUES ('Globex', 'Energy') RETURNING customer_id")
    (lonely,), = sql("INSERT INTO customers (name, industry) VALUES ('Acme Lonely', 'Food') RETURNING customer_id")
    for i in range(3):
        sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'Ann', :l)", c=acme, l=f"L{i}")
    for name, stage in (("Acme renewal", "won"), ("Acme upsell", "proposal")):
        sql("INSERT INTO opportunities (customer_id, name, stage) VALUES (:c, :n, :s)", c=acme, n=name, s=stage)
    sql("INSERT INTO activities (customer_id, type, subject, activity_date) "
        "VALUES (:c, 'call', 'Kick-off call', now())", c=acme)
    return {"acme": acme, "globex": globex, "lonely": lonely}


def rows(page) -> list[str]:
    return page.page.locator(".table-responsive table tr:has(td)").all_inner_texts()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_search_box_and_chips(browser_page, sql, lang):
    page, text = browser_page, TEXTS[lang]
    seed(sql)
    page.sign_in("admin", ADMIN_PASSWORD, lang)
    page.goto("/customers/list/")
    box = page.page.locator("#crm-list-search input[name=q]")
    assert box.get_attribute("placeholder") == text["search"]
    page.page.locator("body").click()
    page.page.keyboard.press("/")  # the list's search, from the keyboard
    assert page.page.evaluate("document.activeElement.name") == "q"
    assert page.page.evaluate("document.activeElement.closest('form').id") == "crm-list-search"
    page.page.keyboard.type("acme")
    page.navigate(lambda: page.page.keyboard.press("Enter"))
    found = rows(page)
    assert len(found) == 2 and all("Acme" in r for r in found) and not any("Globex" in r for r in found)
    chip = page.page.locator(".crm-chip").first.inner_text()
    assert text["chip"] in chip and "acme" in chip
    # a filter from FAB's form keeps the search
    page.goto("/customers/list/?q=acme&_flt_0_industry=Food")
    found = rows(page)
    assert len(found) == 1 and "Acme Lonely" in found[0]
    assert page.page.locator(".crm-chip").count() == 2
    page.navigate(lambda: page.page.locator(".crm-chip-remove").nth(0).click())  # the filter stays
    assert "q=" not in page.page.url and "industry" in page.page.url
    page.navigate(lambda: page.page.click(".crm-chips-clear"))
    assert page.page.url.endswith("/customers/list/") and page.page.locator(".crm-chip").count() == 0
    assert len(rows(page)) == 3
    page.assert_clean()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_drill_down_link_shows_its_filters_as_chips(browser_page, sql, lang):
    page, text = browser_page, TEXTS[lang]
    ids = seed(sql)
    page.sign_in("admin", ADMIN_PASSWORD, lang)
    # the customer page's "All opportunities" link (app/lists/links.py: the customer's relation filter)
    page.goto(f"/opportunities/list/?_flt_0_customer={ids['acme']}")
    chips = page.page.locator(".crm-chip").all_inner_texts()
    assert len(chips) == 1 and "Acme Ltd" in chips[0]  # the related row by its name, not its key
    assert len(rows(page)) == 2
    assert page.page.locator(".crm-chips-clear").inner_text().strip() == text["clear"]
    page.assert_clean()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_titles_link_and_record_pages_edit_and_delete(browser_page, sql, lang):
    page, text = browser_page, TEXTS[lang]
    ids = seed(sql)
    page.sign_in("admin", ADMIN_PASSWORD, lang)
    page.goto("/activities/list/")
    page.navigate(lambda: page.page.click("a.crm-title-link:has-text('Kick-off call')"))
    assert "/activities/show/" in page.page.url
    assert page.page.locator(".crm-record-edit").inner_text().strip() == text["edit"]
    assert page.page.locator(".crm-record-delete").count() == 1

    # a refused delete from the customer page: an error naming what still depends on it
    page.goto("/customers/list/?q=acme%20ltd")
    page.navigate(lambda: page.page.click("a.crm-title-link:has-text('Acme Ltd')"))
    assert page.page.url.endswith(f"/customers/show/{ids['acme']}")
    assert page.confirm_delete(".crm-record-delete") == text["delete"]
    alert = page.page.locator(".alert-danger").inner_text()
    assert text["refused"] in alert
    assert sql("SELECT count(*) FROM customers WHERE customer_id = :c", c=ids["acme"]) == [(1,)]

    # an accepted one from the list: the row goes, the list keeps its search
    page.goto("/customers/list/?q=lonely")
    assert "Acme Lonely" in page.confirm_delete(".crm-row-delete")
    assert text["deleted"] in page.page.content()
    assert sql("SELECT count(*) FROM customers WHERE customer_id = :c", c=ids["lonely"]) == [(0,)]
    page.assert_clean()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_phone_wide_list_has_no_sideways_scroll(browser_page, sql, lang):
    page = browser_page
    ids = seed(sql)
    page.sign_in("admin", ADMIN_PASSWORD, lang)
    page.page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/customers/list/", "/opportunities/list/", "/contacts/list/", "/activities/list/",
                 f"/customers/show/{ids['acme']}", f"/opportunities/list/?_flt_0_customer={ids['acme']}&q=acme"):
        page.goto(path)
        page.page.wait_for_load_state("networkidle")
        width = page.page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide"
    page.goto("/customers/list/")
    sizes = page.page.evaluate("""() => Array.from(document.querySelectorAll(
        '.crm-row-actions .btn, .crm-list-search .btn, .crm-list-search input[name=q]')).map(e => {
        const r = e.getBoundingClientRect(); return [r.width, r.height]; })""")
    assert sizes and all(w >= 40 and h >= 40 for w, h in sizes), sizes
    # delete away from edit: at least a thumb's width between them
    gap = page.page.evaluate("""() => {
        const row = document.querySelector('.crm-row-actions');
        const edit = row.querySelector('a[href*="/edit/"]').getBoundingClientRect();
        const del = row.querySelector('.crm-row-delete').getBoundingClientRect();
        return del.left - edit.right; }""")
    assert gap >= 40, gap
    page.screenshot(f"list-390-{lang}")
    page.assert_clean()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_global_search_shortcut(browser_page, sql, lang):
    page = browser_page
    seed(sql)
    page.sign_in("admin", ADMIN_PASSWORD, lang)
    page.goto("/customers/list/")
    assert "Ctrl+K" in page.page.locator("#crm-topbar-search input[name=q]").get_attribute("placeholder")
    page.page.locator("body").click()
    page.page.keyboard.press("Control+k")
    assert page.page.evaluate("document.activeElement.closest('form').id") == "crm-topbar-search"
    page.page.keyboard.type("Globex")
    page.navigate(lambda: page.page.keyboard.press("Enter"))
    assert "/search/" in page.page.url and "Globex" in page.page.content()
    # "/" while typing in a field types a slash
    page.goto("/customers/list/")
    page.page.click("#crm-topbar-search input[name=q]")
    page.page.keyboard.type("a/b")
    assert page.page.input_value("#crm-topbar-search input[name=q]") == "a/b"
    page.assert_clean()


def search_list(page, path: str, placeholder: str, query: str) -> list[str]:
    """Search the list at `path` from its box (checking its placeholder); the rows found."""
    page.goto(path)
    box = page.page.locator("#crm-list-search input[name=q]")
    assert box.get_attribute("placeholder") == placeholder
    box.fill(query)
    page.navigate(lambda: box.press("Enter"))
    return rows(page)


def test_users_and_roles_lists_search_box_and_chips(browser_page, app):
    page = browser_page
    add_user(app, "wangli", "Li", "Wang", "Sales Rep", USER_PASSWORD)
    page.sign_in("admin", ADMIN_PASSWORD)
    found = search_list(page, "/users/list/", "Search users", "wang")
    assert len(found) == 1 and "wangli" in found[0]
    assert "Search" in page.page.locator(".crm-chip").inner_text()
    page.navigate(lambda: page.page.click(".crm-chips-clear"))
    assert page.page.url.endswith("/users/list/") and len(rows(page)) >= 2
    page.choose_language("zh")
    found = search_list(page, "/roles/list/", "搜索角色", "rep")
    assert len(found) == 1 and "Sales Rep" in found[0]
    assert "搜索" in page.page.locator(".crm-chip").inner_text()
    page.navigate(lambda: page.page.click(".crm-chip-remove"))
    assert page.page.locator(".crm-chip").count() == 0 and len(rows(page)) > 1
    page.assert_clean()


def test_the_owner_filter_in_team_searches_teams_and_is_a_user_again_otherwise(browser_page, sql):
    page = browser_page
    (north,), = sql("INSERT INTO teams (name) VALUES ('North') RETURNING team_id")
    page.sign_in("admin", ADMIN_PASSWORD)
    page.goto(f"/customers/list/?_flt_2_owner={north}")  # "is in team" North, as the "My team" switch opens it
    page.page.click("a.accordion-toggle")  # open the Search panel
    row = page.page.locator("#filter_form .filters tr").first
    value = page.page.locator("[aria-labelledby='select2-owner-container']")  # the value's select2 box
    assert page.page.locator("#select2-owner-container").inner_text().strip().endswith("North")

    def offered(term: str) -> list[str]:
        value.click()
        search = page.page.locator(".select2-container--open .select2-search__field")
        with page.page.expect_response(lambda r: "/lookup/" in r.url and f"q={term}" in r.url) as answer:
            search.fill(term)
        url = answer.value.url
        page.page.wait_for_selector(".select2-results__option:not(.loading-results)")
        texts = page.page.locator(".select2-results__option").all_inner_texts()
        page.page.keyboard.press("Escape")
        return [url.split("/lookup/", 1)[1].split("/", 1)[0], *texts]

    assert offered("nor") == ["teams", "North"]
    row.locator("select.filter-op").select_option(index=0, force=True)  # "is": an owner, a user
    assert row.locator("select.filter_val").input_value() == ""  # the team is not taken for a user
    users = offered("adm")
    assert users[0] == "users" and any("(admin)" in text for text in users[1:])
    page.assert_clean()
