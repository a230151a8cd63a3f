"""Error pages: every 4xx/5xx in the app's layout and the user's language, with a way back; JSON under /api/."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app.models import Customer
from tests.support.client import csrf_token, login
from tests.support.faults import stopped_statement
from tests.support.pages import visible_texts

TITLES = {
    400: ("Bad request", "请求有误"),
    403: ("Access denied", "无权访问"),
    404: ("Page not found", "页面不存在"),
    405: ("Method not allowed", "不支持该请求方式"),
    413: ("Request too large", "请求过大"),
    429: ("Too many requests", "请求过于频繁"),
    500: ("Something went wrong", "出错了"),
    503: ("Service temporarily unavailable", "服务暂时不可用"),
}
LANGUAGES = {"en": 0, "zh": 1}
HOME = {"en": "Home", "zh": "首页"}
BACK = {"en": "Back", "zh": "返回"}
BIG_FORM = {"name": "x" * 600_000}  # over Werkzeug's 500 kB for a multipart text field in memory


def switch(client: FlaskClient, lang: str) -> None:
    assert client.get(f"/lang/{lang}").status_code == 302


@pytest.fixture
def crashing_app(app):
    """The app plus one route that fails as an unforeseen bug would (the product has none to show)."""
    def crash():
        raise RuntimeError("an unforeseen bug")

    app.add_url_rule("/crash-for-test", "crash_for_test", crash)
    app.add_url_rule("/api/v1/crash-for-test", "api_crash_for_test", crash)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: TESTING would re-raise
    return app


@pytest.fixture
def support_agent(app, sql):
    """A signed-in user whose role lacks the admin screens."""
    result = app.test_cli_runner().invoke(args=["crm", "create-user", "--username", "agent", "--email", "agent@example.com",
                                                "--role", "Support Agent", "--password", "Agent-pass-2026-x"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert login(client, "agent", "Agent-pass-2026-x").status_code == 302
    return client


def trigger(code: int, app, admin: FlaskClient, agent: FlaskClient):
    """Cause `code` with a real request, as a signed-in user; Referer set to a page of ours."""
    referer = {"Referer": "http://localhost/customers/list/"}
    if code == 400:
        return admin.get("/customers/list/?psize_CustomerView=0", headers=referer)
    if code == 403:
        return agent.get("/users/list/", headers=referer)
    if code == 404:
        return admin.get("/no-such-page/", headers=referer)
    if code == 405:
        return admin.get("/customers/action_post", headers=referer)
    if code == 413:
        return admin.post("/customers/add", data=BIG_FORM, headers=referer, content_type="multipart/form-data")
    if code == 429:
        app.config["AUTH_RATE_LIMIT_ATTEMPTS"] = 0
        token = csrf_token(admin, "/customers/list/")
        return admin.post("/login/", data={"username": "admin", "password": "wrong", "csrf_token": token},
                          headers=referer)
    if code == 500:
        return admin.get("/crash-for-test", headers=referer)
    raise AssertionError(code)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("code", [400, 403, 404, 405, 413, 429, 500])
def test_error_page_in_the_layout_and_language_with_a_way_back(crashing_app, admin, support_agent, code, lang):
    switch(admin, lang)
    switch(support_agent, lang)
    response = trigger(code, crashing_app, admin, support_agent)
    assert response.status_code == code
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    texts = visible_texts(html)
    title = TITLES[code][LANGUAGES[lang]]
    assert title in texts and f"<title>{title}" in html
    # the app's layout with the signed-in user's menu and the favicon
    assert 'class="navbar' in html and 'rel="icon"' in html
    assert ("Customers" if lang == "en" else "客户") in texts
    # a way back: the page the user came from, and home
    assert 'href="http://localhost/customers/list/"' in html and BACK[lang] in html
    assert HOME[lang] in html
    assert "Traceback" not in html and "Werkzeug" not in html
    if code == 429:
        assert response.headers["Retry-After"]
    if code == 405:
        assert "POST" in response.headers["Allow"]
    if code == 500:
        assert "unforeseen" not in html  # nothing of the exception is shown


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_refused_form_says_why_in_the_users_language(admin, lang):
    switch(admin, lang)
    response = admin.post("/customers/add", data={"name": "No token"})
    assert response.status_code == 400
    expected = ("This form has expired or did not come from this site" if lang == "en"
                else "此表单已过期或并非来自本站")
    assert expected in response.get_data(as_text=True)


@pytest.mark.parametrize("referer", ["http://elsewhere.example/page", "javascript://localhost/%0aalert(1)"])
def test_back_leads_only_to_a_page_of_ours(admin, referer):
    response = admin.get("/no-such-page/", headers={"Referer": referer})
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and "elsewhere" not in html and "javascript" not in html
    assert "Back" not in visible_texts(html) and "Home" in visible_texts(html)


def test_signed_out_visitors_get_the_layout_without_the_menu(client):
    response = client.get("/no-such-page/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and "页面不存在" in html and 'class="navbar' in html
    assert "/login/" in html and "客户" not in visible_texts(html)
    assert "返回" not in visible_texts(html)  # no page to go back to: home only
    assert "首页" in html


def test_a_stopped_statement_is_a_503_in_the_layout_and_language(app):
    for lang, title in (("en", "Service temporarily unavailable"), ("zh", "服务暂时不可用")):
        response = stopped_statement(app, "/customers/list/", **{"Accept-Language": lang})
        html = response.get_data(as_text=True)
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        assert title in visible_texts(html) and 'class="navbar' in html
        assert ("took too long" if lang == "en" else "耗时过长") in html


def test_a_lost_database_still_gets_a_plain_503_page_and_json(pg):
    from tests.support.apps import make_app

    app = make_app(pg, "postgresql+psycopg://crm_owner:x@/nosuchdb?host=/nonexistent")
    client = app.test_client()
    for lang, title in (("en", "Service temporarily unavailable"), ("zh", "服务暂时不可用")):
        response = client.get("/customers/list/", headers={"Accept-Language": lang})
        html = response.get_data(as_text=True)
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        assert f"<h1>{title}</h1>" in html and "href='/'" in html
        assert 'class="navbar' not in html  # the layout needs the database: the plain page answered
    response = client.get("/api/v1/customers/")
    assert response.status_code == 503 and response.get_json()["status"] == 503
    assert response.get_json()["message"]
    assert client.get("/favicon.ico").status_code == 200  # needs no database


def test_a_signed_in_user_gets_the_503_in_their_language_without_asking_the_lost_database(pg, admin):
    from tests.support.apps import make_app

    switch(admin, "zh")
    down = make_app(pg, "postgresql+psycopg://crm_owner:x@/nosuchdb?host=/nonexistent").test_client()
    down.set_cookie("session", admin.get_cookie("session").value)  # the same secret key: the same session
    response = down.get("/customers/list/")
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and "<h1>服务暂时不可用</h1>" in html and "目前无法连接数据库" in html
    assert 'class="navbar' not in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_api_errors_are_json_in_the_users_language(crashing_app, client, lang):
    app = crashing_app
    signed_in = app.test_client()
    login(signed_in)
    switch(signed_in, lang)
    cases = {
        400: lambda: client.get("/api/v1/customers/?page_CustomerView=x"),
        # no credential: refused before the body is read
        401: lambda: client.post("/api/v1/customers/", data=BIG_FORM, content_type="multipart/form-data"),
        404: lambda: client.get("/api/v1/no-such-endpoint/"),
        405: lambda: client.get("/api/v1/security/login"),
        # a cookie session's post is read for its CSRF token
        413: lambda: signed_in.post("/api/v1/customers/", data=BIG_FORM, content_type="multipart/form-data"),
        500: lambda: client.get("/api/v1/crash-for-test"),
    }
    for code, request in cases.items():
        response = request()
        assert response.status_code == code, (code, response.get_data(as_text=True)[:200])
        assert response.is_json, code
        body = response.get_json()
        assert body["status"] == code and body["message"], code
    app.config["AUTH_RATE_LIMIT_ATTEMPTS"] = 0
    response = client.post(f"/api/v1/security/login?_l_={lang}",
                           json={"username": "admin", "password": "wrong", "provider": "db"})
    assert response.status_code == 429 and response.headers["Retry-After"]
    assert ("Too many sign-in attempts" if lang == "en" else "登录尝试") in response.get_json()["message"]
    response = client.get(f"/api/v1/no-such-endpoint/?_l_={lang}")
    assert response.get_json()["message"].startswith("There is nothing" if lang == "en" else "此地址下没有内容")


def test_api_refusal_by_role_is_json(app, support_agent):
    client = app.test_client()
    signed_in = client.post("/api/v1/security/login",
                            json={"username": "agent", "password": "Agent-pass-2026-x", "provider": "db"})
    assert signed_in.status_code == 200, signed_in.get_data(as_text=True)
    bearer = {"Authorization": f"Bearer {signed_in.get_json()['access_token']}"}
    assert client.get("/api/v1/customers/", headers=bearer).status_code == 200
    response = client.get("/api/v1/opportunities/", headers=bearer)
    assert response.status_code == 403 and response.is_json and response.get_json()["message"]


def test_a_decryption_failure_is_a_500_in_the_layout(admin, sql, add_rows):
    first, second = add_rows(Customer, {"name": "Left", "revenue": 1}, {"name": "Right", "revenue": 2})
    sql("UPDATE customers SET revenue = (SELECT revenue FROM customers WHERE customer_id = :a) "
        "WHERE customer_id = :b", a=first, b=second)
    switch(admin, "zh")
    response = admin.get(f"/customers/show/{second}")
    html = response.get_data(as_text=True)
    assert response.status_code == 500 and "does not decrypt" in html
    assert "出错了" in visible_texts(html) and 'class="navbar' in html and "未通过完整性校验" in html
    response = admin.get(f"/api/v1/customers/{second}")  # FAB's API answers its own 500, in JSON
    assert response.status_code == 500 and response.is_json and "Right" not in response.get_data(as_text=True)


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00" and len(response.data) > 100
    page = client.get("/login/").get_data(as_text=True)
    assert '<link rel="icon" href="/favicon.ico">' in page


def test_no_error_handler_hides_a_redirect_or_a_success(admin):
    assert admin.get("/customers/list").status_code in (301, 308)  # Werkzeug's slash redirect stays
    assert admin.get("/customers/list/").status_code == 200
    assert csrf_token(admin, "/customers/add")
