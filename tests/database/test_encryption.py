"""Financial amounts are encrypted at rest: never readable in SQL, dumps or logs; bound to their row."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from app.ops.database import owner_engine
from app.ops.embedded_db import bin_path
from app.encryption.columns import key_ring
from app.encryption.keyring import KEY_FILE, DecryptionError
from app.encryption.rotation import count_pending, reencrypt
from app.extensions import db
from app.crud.datamodel import CrmInterface
from app.models import Contact, Customer, Opportunity
from tests.support.apps import db_name, make_app, own_ring_app  # noqa: F401  (fixture)
from tests.support.client import csrf_token, post_form
from tests.support.htmlforms import form_fields
from tests.support.users import ADMIN_ID, as_admin

CANARY_REVENUE = "8642097531.13"
CANARY_VALUE = "7531864209.57"


def _digits(text: str) -> str:
    return text.split(".")[0]


def _key_ids(sql, table: str, column: str) -> set[int]:
    rows = sql(f"SELECT substring({column} from 2 for 4) FROM {table} WHERE {column} IS NOT NULL")
    return {struct.unpack(">I", bytes(r[0]))[0] for r in rows}


def test_canary_entered_through_screens_is_never_plaintext_in_sql_dump_or_logs(admin, sql, pg, app):
    data = form_fields(admin.get("/customers/add").get_data(as_text=True))
    data.update(name="Canary Holdings", revenue=CANARY_REVENUE)
    assert admin.post("/customers/add", data=data).status_code == 302
    (cid,), = sql("SELECT customer_id FROM customers WHERE name = 'Canary Holdings'")
    data = form_fields(admin.get("/opportunities/add").get_data(as_text=True))
    data.update(name="Canary deal", customer=str(cid), stage="proposal", value=CANARY_VALUE)
    assert admin.post("/opportunities/add", data=data).status_code == 302
    # edited through the screen too: the edit path seals again
    data = form_fields(admin.get(f"/customers/edit/{cid}").get_data(as_text=True))
    assert data["revenue"].replace(",", "") == CANARY_REVENUE  # the form shows the number (grouped)
    data.update(industry="Finance")
    assert post_form(admin, f"/customers/edit/{cid}", data).status_code == 302

    # the screens show plain numbers
    page = admin.get(f"/customers/show/{cid}").get_data(as_text=True)
    assert "8,642,097,531.13" in page and "1B and more" in page
    assert "7,531,864,209.57" in admin.get("/opportunities/list/").get_data(as_text=True)

    canaries = [_digits(CANARY_REVENUE), _digits(CANARY_VALUE)]
    plain_sql = " ".join(str(row) for table in ("customers", "opportunities", "logs")
                         for row in sql(f"SELECT t::text FROM {table} t"))
    assert "Canary Holdings" in plain_sql  # the query did read the rows
    for canary in canaries:
        assert canary not in plain_sql
    (revenue_type,), = sql("SELECT pg_typeof(revenue)::text FROM customers WHERE customer_id = :c", c=cid)
    assert revenue_type == "bytea"

    database = db_name(app)
    dump = subprocess.run([bin_path("pg_dump"), "--data-only", pg.libpq(database)],
                          capture_output=True, text=True, check=True).stdout
    assert "Canary Holdings" in dump
    for canary in canaries:
        assert canary not in dump
    logs = " ".join(str(r) for r in sql("SELECT * FROM logs"))
    for canary in canaries:
        assert canary not in logs
    if pg.embedded:  # nor in the database server's own log
        server_log = (pg.embedded.pgdata / "server.log").read_text(errors="replace")
        assert all(canary not in server_log for canary in canaries)


def test_rest_api_reads_and_writes_decimal_strings(admin, sql):
    headers = {"X-CSRFToken": csrf_token(admin, "/customers/add")}
    response = admin.post("/api/v1/customers/", json={"name": "API Co", "revenue": "1234.5"}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    cid = response.get_json()["id"]
    body = admin.get(f"/api/v1/customers/{cid}").get_json()["result"]
    assert body["revenue"] == "1234.50" and body["revenue_band"] == 1
    (stored,), = sql("SELECT revenue FROM customers WHERE customer_id = :c", c=cid)
    assert b"1234" not in bytes(stored)
    bad = admin.post("/api/v1/customers/", json={"name": "Negative Co", "revenue": "-1"}, headers=headers)
    assert bad.status_code == 422, bad.status_code  # the database cannot check a ciphertext: the API does


def test_ciphertext_moved_to_another_row_or_column_fails_to_decrypt(app, sql, add_rows):
    first, second = add_rows(Customer, {"name": "First", "revenue": Decimal("100.00")},
                             {"name": "Second", "revenue": Decimal("999999.00")})
    (deal,) = add_rows(Opportunity, {"name": "Deal", "customer_id": first, "value": Decimal("5.00")})
    sql("UPDATE customers SET revenue = (SELECT revenue FROM customers WHERE customer_id = :a) "
        "WHERE customer_id = :b", a=first, b=second)
    sql("UPDATE opportunities SET value = (SELECT revenue FROM customers WHERE customer_id = :a) "
        "WHERE opportunity_id = :o", a=first, o=deal)
    with as_admin(app):
        assert db.session.get(Customer, first).revenue == Decimal("100.00")
        with pytest.raises(DecryptionError, match="customers.revenue of row"):
            db.session.get(Customer, second)
        db.session.rollback()
        with pytest.raises(DecryptionError, match="opportunities.value of row"):
            db.session.get(Opportunity, deal)


def test_moved_ciphertext_is_a_clear_error_page_not_a_wrong_number(admin, sql, add_rows):
    first, second = add_rows(Customer, {"name": "Left", "revenue": 1}, {"name": "Right", "revenue": 2})
    sql("UPDATE customers SET revenue = (SELECT revenue FROM customers WHERE customer_id = :a) "
        "WHERE customer_id = :b", a=first, b=second)
    response = admin.get(f"/customers/show/{second}")
    assert response.status_code == 500
    assert "does not decrypt" in response.get_data(as_text=True)


def test_lists_of_other_tables_leave_their_customers_revenue_sealed(app, admin, sql, add_rows):
    """A contacts list names each contact's customer: it neither reads nor decrypts the customer's revenue
    (a moved ciphertext does not break it), which is still decrypted when asked for."""
    first, second = add_rows(Customer, {"name": "Sealed Left", "revenue": Decimal("10.00")},
                             {"name": "Sealed Right", "revenue": Decimal("20.00")})
    (contact,) = add_rows(Contact, {"customer_id": second, "first_name": "Ana", "last_name": "Sealed"})
    listed = admin.get("/contacts/list/")
    assert listed.status_code == 200 and "Sealed Right" in listed.get_data(as_text=True)
    with as_admin(app):  # the list's own loading (CrmInterface.with_related), then the amount asked for
        interface = CrmInterface(Contact)
        row = interface.with_related(db.session.query(Contact)).filter(Contact.contact_id == contact).one()
        assert "revenue" not in row.customer.__dict__ and row.customer.name == "Sealed Right"
        assert row.customer.revenue == Decimal("20.00")
        db.session.expire(row.customer)  # read again (a refresh): decrypted again
        assert row.customer.revenue == Decimal("20.00") and "revenue" not in inspect(row.customer).committed_state
        db.session.remove()
    sql("UPDATE customers SET revenue = (SELECT revenue FROM customers WHERE customer_id = :a) "
        "WHERE customer_id = :b", a=first, b=second)
    assert admin.get("/contacts/list/").status_code == 200  # the customer's revenue is not opened
    assert admin.get("/customers/list/").status_code == 500  # where it is shown, the fault is plain


def test_ciphertext_length_does_not_reveal_the_amount(sql, add_rows):
    add_rows(Customer, {"name": "Tiny", "revenue": Decimal("1")},
             {"name": "Huge", "revenue": Decimal("9999999999999999.99")})
    lengths = {r[0] for r in sql("SELECT octet_length(revenue) FROM customers WHERE revenue IS NOT NULL")}
    assert len(lengths) == 1
    (a,), (b,) = sql("SELECT revenue FROM customers WHERE name IN ('Tiny', 'Huge') ORDER BY name")
    assert bytes(a) != bytes(b)


def test_same_amount_twice_gives_different_ciphertexts(sql, add_rows):
    add_rows(Customer, {"name": "A", "revenue": 500}, {"name": "B", "revenue": 500})
    assert len({bytes(r[0]) for r in sql("SELECT revenue FROM customers")}) == 2  # fresh nonce per value


def test_list_sorts_and_filters_by_band_not_by_ciphertext(admin, add_rows):
    add_rows(Customer, {"name": "Mid Band Co", "revenue": 50_000}, {"name": "Top Band Co", "revenue": 7_000_000},
             {"name": "Low Band Co", "revenue": 5}, {"name": "No Revenue Co"})
    page = admin.get("/customers/list/?_oc_CustomerView=revenue_band&_od_CustomerView=desc").get_data(as_text=True)
    order = [page.index(n) for n in ("Top Band Co", "Mid Band Co", "Low Band Co")]
    assert order == sorted(order)
    assert "1M–10M" in page and "7,000,000.00" in page
    # the encrypted column is not sortable: its header has no sort link, a crafted one is refused
    assert "_oc_CustomerView=revenue&" not in page
    assert admin.get("/customers/list/?_oc_CustomerView=revenue").status_code == 400
    # range filter on the band: "greater than 10K–100K"
    page = admin.get("/customers/list/?_flt_1_revenue_band=2").get_data(as_text=True)
    assert "Top Band Co" in page and "Mid Band Co" not in page and "Low Band Co" not in page
    # the filter input is a dropdown of bands, and the form explains why
    assert "10K–100K" in admin.get("/customers/list/").get_data(as_text=True)
    assert "Stored encrypted" in admin.get("/customers/add").get_data(as_text=True)


def _amounts(app) -> dict[str, Decimal | None]:
    with as_admin(app):
        found = {c.name: c.revenue for c in db.session.scalars(select(Customer))}
        found.update({o.name: o.value for o in db.session.scalars(select(Opportunity))})
        db.session.remove()
        return found


def _seed(app, count: int = 7) -> dict[str, Decimal | None]:
    with as_admin(app):
        customers = [Customer(name=f"Rot {i}", revenue=Decimal(i * 1111) if i else None) for i in range(count)]
        db.session.add_all(customers)
        db.session.flush()
        db.session.add_all([Opportunity(name=f"Deal {i}", customer_id=c.customer_id, value=Decimal(i) / 4)
                            for i, c in enumerate(customers)])
        db.session.commit()
    return _amounts(app)


def test_rotate_key_round_trips(own_ring_app, tmp_path):
    app = own_ring_app
    from sqlalchemy import text

    before = _seed(app)
    with as_admin(app):
        old = {bytes(r[0]) for r in db.session.execute(text("SELECT revenue FROM customers WHERE revenue IS NOT NULL"))}
    result = app.test_cli_runner().invoke(args=["crm", "rotate-key", "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert "New key 2 added" in result.output and "Done: 13 values re-encrypted" in result.output
    assert "13/13" in result.output  # the progress bar
    ring_file = tmp_path / KEY_FILE
    assert ring_file.stat().st_mode & 0o777 == 0o600
    ring = json.loads(ring_file.read_text())
    assert ring["active"] == 2 and set(ring["keys"]) == {"1", "2"}  # the old key stays, for old backups
    assert _amounts(app) == before
    with as_admin(app):
        new = {bytes(r[0]) for r in db.session.execute(text("SELECT revenue FROM customers WHERE revenue IS NOT NULL"))}
        ids = {bytes(r[0])[1:5] for r in db.session.execute(text("SELECT value FROM opportunities"))}
    assert not old & new and ids == {struct.pack(">I", 2)}
    assert "data key rotated" in str(_logs(app))
    # written after the rotation: under the new key
    with as_admin(app):
        db.session.add(Customer(name="After", revenue=Decimal("42.00")))
        db.session.commit()
    assert _amounts(app)["After"] == Decimal("42.00")


def _logs(app):
    from sqlalchemy import text

    with app.app_context():
        return db.session.execute(text("SELECT action, description FROM logs")).fetchall()


def test_interrupted_rotation_is_finished_by_a_second_run(own_ring_app, tmp_path):
    app = own_ring_app
    before = _seed(app, 9)
    with app.app_context(), owner_engine(app.config) as engine:  # as rotate-key: the owner sees every row
        ring = key_ring()
        ring.add_key()
        batches = []

        def interrupt(_column, count):
            batches.append(count)
            if len(batches) == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            reencrypt(engine, ring, batch_size=2, on_batch=interrupt)
        left = count_pending(engine, ring)
        assert left == 17 - 4  # 17 values; two batches of two were saved
    assert _amounts(app) == before  # mixed keys: every value still decrypts
    result = app.test_cli_runner().invoke(args=["crm", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert f"Finishing an unfinished rotation: {left} values" in result.output
    assert json.loads((tmp_path / KEY_FILE).read_text())["active"] == 2  # no third key for a re-run
    assert _amounts(app) == before
    with app.app_context(), owner_engine(app.config) as engine:
        assert count_pending(engine, key_ring()) == 0


def test_key_ring_from_the_environment_is_used_and_never_written(pg, database, tmp_path, monkeypatch):
    from app.encryption.keyring import KeyRing

    ring = KeyRing({7: os.urandom(32)}, 7)
    monkeypatch.setenv("CRM_DATA_KEYS", ring.to_json())
    app = make_app(pg, database, INSTANCE_DIR=tmp_path)
    with as_admin(app):
        db.session.add(Customer(name="Env Co", revenue=Decimal("3.50")))
        db.session.commit()
    assert _amounts(app)["Env Co"] == Decimal("3.50")
    assert not (tmp_path / KEY_FILE).exists()
    result = app.test_cli_runner().invoke(args=["crm", "rotate-key"])
    assert result.exit_code != 0 and "CRM_DATA_KEYS" in result.output
    with app.app_context():
        db.engine.dispose()


def test_plaintext_amount_never_reaches_sql(app):
    from sqlalchemy import insert

    with app.app_context():
        with pytest.raises(Exception, match="reaches SQL only sealed"):
            db.session.execute(insert(Customer).values(name="Core Co", revenue=Decimal("5")))
        db.session.rollback()
        with pytest.raises(Exception, match="never compare it in SQL"):
            db.session.scalars(select(Customer).where(Customer.revenue > 5)).all()
        db.session.rollback()


UNSEALED_WRITE = f"""
import sys
from pathlib import Path
from decimal import Decimal

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

import app  # the factory's package and all it imports (models, encryption), without calling it
from app.encryption import columns
from app.models import Customer, Model

print("after import:", columns.installed(Model))
database_url, instance = sys.argv[1:]
with Session(create_engine(database_url)) as session:  # a script writing models without create_app
    session.add(Customer(name="Unsealed Ltd", revenue=Decimal("123.45")))
    try:
        session.commit()
        print("unsealed write: stored")
    except Exception as exc:
        print("unsealed write: refused,", "reaches SQL only sealed" in str(exc))
from config import TestConfig

application = app.create_app(TestConfig, DATABASE_URL=database_url, INSTANCE_DIR=instance, SECRET_KEY="x" * 40)
print("after create_app:", columns.installed(Model))
from sqlalchemy import text

from app.audit.context import acting_as

with application.app_context():
    from app.extensions import db

    admin = db.session.scalar(text("SELECT {ADMIN_ID}"))
    with acting_as((admin, "test")):  # row-level security: a record is written by a user
        db.session.add(Customer(name="Sealed Ltd", revenue=Decimal("123.45")))
        db.session.commit()
"""


def test_only_the_factorys_explicit_call_turns_encryption_on(pg, database, sql):
    """Importing the models installs nothing; without the listeners an amount cannot reach SQL at all."""
    from sqlalchemy.engine import make_url

    from app.ops.embedded_db import RUNTIME_ROLE

    runtime = make_url(pg.url(make_url(database).database, RUNTIME_ROLE)).set(drivername="postgresql+psycopg")
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, "-c", UNSEALED_WRITE, runtime.render_as_string(hide_password=False),
                           str(pg.instance)], cwd=root, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": root})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["after import: False", "unsealed write: refused, True",
                                        "after create_app: True"]
    assert sql("SELECT count(*) FROM customers WHERE name = 'Unsealed Ltd'") == [(0,)]
    (stored,), = sql("SELECT revenue FROM customers WHERE name = 'Sealed Ltd'")
    assert isinstance(stored, bytes) and b"123" not in stored and len(stored) > 16
