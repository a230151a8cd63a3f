"""CSV import of customers, contacts and leads: dry run (row, column, error), then all rows or none."""
from __future__ import annotations

import io
import json
import re
from decimal import Decimal

import pytest

from tests.support.client import csrf_token, login
from tests.support.users import USER_PASSWORD, as_admin, make_user

TOKEN_RE = re.compile(r'action="(/\w+/import/[^"]+)"')


def upload(client, route: str, content: bytes | str, encoding: str = "auto", name: str = "data.csv"):
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(f"{route}/import/", data={
        "csrf_token": csrf_token(client, f"{route}/import/"), "encoding": encoding,
        "file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def problems(page: str) -> list[tuple[str, str, str]]:
    table = page.split('class="table table-condensed table-bordered crm-import-problems"', 1)[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", table)
    return [(r, c, e.replace("&#39;", "'").replace("&#34;", '"')) for r, c, e in rows]


def confirm(client, page: str):
    action = TOKEN_RE.search(page).group(1)
    return client.post(action, data={"csrf_token": csrf_token(client, "/")})


def count(sql, table: str) -> int:
    return sql(f"SELECT count(*) FROM {table}")[0][0]


def customer_values(app) -> list[tuple]:

    with as_admin(app):  # row-level security: the admin sees every row
        from sqlalchemy import select

        from app.extensions import db
        from app.models import Customer

        return [(c.name, c.industry, c.location, c.revenue, c.revenue_band)
                for c in db.session.scalars(select(Customer).order_by(Customer.customer_id))]


GOOD = "Name,Industry,Location,Revenue\r\nAcme 公司,Retail,深圳,\"1,234.50\"\r\nBeta,,,\r\n"


def test_dry_run_writes_nothing_then_confirm_inserts_all(app, admin, sql):
    logs_before = count(sql, "logs")
    page = upload(admin, "/customers", GOOD).get_data(as_text=True)
    assert "2 rows are ready" in page and "Nothing has been written yet" in page
    assert count(sql, "customers") == 0 and count(sql, "logs") == logs_before
    response = confirm(admin, page)
    assert response.status_code == 302 and response.headers["Location"].endswith("/customers/list/")
    assert customer_values(app) == [("Acme 公司", "Retail", "深圳", Decimal("1234.50"), 1),
                                    ("Beta", None, None, None, None)]
    assert sql("SELECT pg_typeof(revenue)::text FROM customers WHERE name = 'Acme 公司'") == [("bytea",)]
    # one audit row per inserted row (the trigger) and one for the import, by the admin
    admin_id = sql("SELECT user_id FROM users WHERE username = 'admin'")[0][0]
    assert sql("SELECT count(*), min(user_id) FROM logs WHERE action = 'insert customers'") == [(2, admin_id)]
    # the importer owns the rows (owner_id's default, not a NULL written for the absent column)
    assert sql("SELECT DISTINCT owner_id FROM customers") == [(admin_id,)]
    (description,), = sql("SELECT description FROM logs WHERE action = 'import'")
    assert json.loads(description) == {"table": "customers", "file": "data.csv", "rows": 2, "encoding": "utf-8"}
    # confirming twice imports once
    again = confirm(admin, page)
    assert again.status_code == 302 and count(sql, "customers") == 2


def test_every_problem_reported_as_row_column_error_and_nothing_written(admin, sql):
    content = ("Name,Industry,Revenue\n"
               "Ok one,Retail,10\n"
               ",Retail,5\n"                      # row 3: required
               f"{'x' * 256},Retail,abc\n"         # row 4: too long, not a number
               "Neg,Retail,-3\n")                  # row 5: negative amount
    response = upload(admin, "/customers", content)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert problems(page) == [
        ("3", "Name", "This field is required."),
        ("4", "Name", "Field cannot be longer than 255 characters."),
        ("4", "Revenue", "Enter an amount such as 12,500,000 or 12,500,000.50."),
        ("5", "Revenue", "Enter a number between 0 and 9,999,999,999,999,999.99."),
    ]
    assert "Nothing has been written" in page and not TOKEN_RE.search(page)
    assert count(sql, "customers") == 0


def test_contacts_need_an_existing_customer_and_valid_formats(admin, sql):
    (cid,), = sql("INSERT INTO customers (name) VALUES ('父公司') RETURNING customer_id")
    sql("INSERT INTO customers (name) VALUES ('Twin'), ('Twin')")
    content = ("Customer id,First name,Last name,Email,Phone\n"
               f"{cid},Ada,Lovelace,ada@example.com,+44 20 7946 0958\n"
               "999999,Bob,B,,\n"
               f"{cid},Cy,C,not-an-email,12\n"
               f"{cid},,D,,\n")
    page = upload(admin, "/contacts", content).get_data(as_text=True)
    assert problems(page) == [
        ("3", "Customer id", "No customer with ID 999999."),
        ("4", "Email", "Not a valid email address."),
        ("4", "Phone", "Not a valid phone number (digits, spaces, + ( ) - . /)."),
        ("5", "First name", "This field is required."),
    ]
    by_name = upload(admin, "/contacts", "Customer,First name,Last name\n父公司,Ada,L\nTwin,Bo,B\nNobody,Cy,C\n")
    assert problems(by_name.get_data(as_text=True)) == [
        ("3", "Customer", "Several customer records are named Twin: give the ID."),
        ("4", "Customer", "No customer with name Nobody."),
    ]
    assert count(sql, "contacts") == 0


def test_chinese_headers_and_choice_values_leads(admin, sql):
    (cid,), = sql("INSERT INTO customers (name) VALUES ('C') RETURNING customer_id")
    (contact,), = sql("INSERT INTO contacts (customer_id, first_name, last_name, email) "
                      "VALUES (:c, '伟', '王', 'wang@example.com') RETURNING contact_id", c=cid)
    page = upload(admin, "/leads", f"来源,状态,联系人ID\n展会,Following up,{contact}\n官网,,\n"
                                   "Web,wrong,\n").get_data(as_text=True)
    assert problems(page) == [("4", "状态", "Not a valid choice.")]
    page = upload(admin, "/leads", "来源,状态,联系人\n展会,Following up,wang@example.com\n官网,,\n").get_data(as_text=True)
    confirm(admin, page)
    assert sql("SELECT source, status, contact_id FROM leads ORDER BY lead_id") == [
        ("展会", "following up", contact), ("官网", "new", None)]


def test_chinese_customer_headers_in_a_gbk_file(app, admin, sql):
    content = "客户名称,所属行业,地理位置,年收入\r\n深圳腾达电子,制造业,深圳,2500000\r\n".encode("gbk")
    page = upload(admin, "/customers", content).get_data(as_text=True)
    assert "gb18030" in page and "1 rows are ready" in page
    confirm(admin, page)
    # the industry's Chinese label is read as its documented value (app/models/choices.py)
    assert customer_values(app) == [("深圳腾达电子", "Manufacturing", "深圳", Decimal("2500000.00"), 4)]


def test_utf8_with_bom_and_an_export_round_trip(app, admin, sql, add_rows):
    from app.models import Customer

    add_rows(Customer, dict(name="导出 Export", industry="Technology", revenue=Decimal("99.90")))
    exported = admin.get("/customers/export/").get_data()
    assert exported.startswith(b"\xef\xbb\xbf")
    page = upload(admin, "/customers", exported).get_data(as_text=True)
    assert "1 rows are ready" in page and "Ignored" in page  # id and timestamps are the database's
    confirm(admin, page)
    assert [v[:4] for v in customer_values(app)] == [("导出 Export", "Technology", None, Decimal("99.90"))] * 2


def test_one_bad_row_among_many_inserts_nothing(admin, sql):
    rows = "".join(f"Customer {i},Retail,{i}\n" for i in range(500))
    page = upload(admin, "/customers", "Name,Industry,Revenue\n" + rows + "Bad,Retail,-1\n").get_data(as_text=True)
    assert problems(page) == [("502", "Revenue", "Enter a number between 0 and 9,999,999,999,999,999.99.")]
    assert count(sql, "customers") == 0


def test_data_changed_between_check_and_confirm_inserts_nothing(admin, sql):
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Gone soon') RETURNING customer_id")
    page = upload(admin, "/contacts", f"Customer id,First name,Last name\n{cid},A,B\n{cid},C,D\n").get_data(as_text=True)
    sql("DELETE FROM customers WHERE customer_id = :c", c=cid)
    response = confirm(admin, page)
    assert response.status_code == 409
    assert ("2", "Customer id", f"No customer with ID {cid}.") in problems(response.get_data(as_text=True))
    assert count(sql, "contacts") == 0


@pytest.mark.parametrize("content, status, message", [
    (b"", 400, "The file is empty."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", 400, "This is not a CSV text file"),
    ("Name\n".encode("utf-16"), 400, "This is not a CSV text file"),
    (b"Nmae,Industry\nAcme,Retail\n", 200, "Unknown column"),
    (b"Industry\nRetail\n", 200, "Required column is missing."),
    (b"Name,Name\nA,B\n", 200, "The column Name appears twice."),
    (b'Name\n"unterminated\x00\n', 400, "This is not a CSV text file"),
])
def test_bad_files_get_a_clear_message_never_a_500(admin, sql, content, status, message):
    response = upload(admin, "/customers", content)
    assert response.status_code == status
    assert message in response.get_data(as_text=True).replace("&#34;", '"')
    assert count(sql, "customers") == 0


def test_wrong_encoding_chosen_is_a_clear_error(admin, sql):
    response = upload(admin, "/customers", "客户名称\n腾达\n".encode("gbk"), encoding="utf-8")
    assert response.status_code == 400 and "could not be read as UTF-8" in response.get_data(as_text=True)


def test_missing_file_and_too_large_file(app, admin, sql):
    response = admin.post("/customers/import/", data={"csrf_token": csrf_token(admin, "/customers/import/")})
    assert response.status_code == 400 and "Choose a CSV file" in response.get_data(as_text=True)
    app.config["CSV_IMPORT_MAX_BYTES"] = 1024 * 1024
    response = upload(admin, "/customers", "Name\n" + "x\n" * 600_000)
    assert response.status_code == 413
    assert "larger than the limit of 1 MB" in response.get_data(as_text=True)
    assert count(sql, "customers") == 0


def test_import_needs_its_permission(app, client, sql):
    make_user(app, "rep", "Sales Rep")
    login(client, "rep", USER_PASSWORD)
    assert "Import CSV" not in client.get("/customers/list/").get_data(as_text=True)
    assert client.get("/customers/import/").status_code in (302, 403)
    make_user(app, "mgr", "Sales Manager")
    manager = app.test_client()
    login(manager, "mgr", USER_PASSWORD)
    assert 'href="/customers/import/"' in manager.get("/customers/list/").get_data(as_text=True)
    page = upload(manager, "/customers", GOOD).get_data(as_text=True)
    # another user cannot confirm someone else's checked file
    assert confirm(client, page).status_code in (302, 403) and count(sql, "customers") == 0
    assert confirm(manager, page).status_code == 302 and count(sql, "customers") == 2
    assert sql("SELECT DISTINCT u.username FROM customers JOIN users u ON u.user_id = owner_id") == [("mgr",)]
    # no import screen on the other lists
    assert manager.get("/opportunities/import/").status_code == 404
