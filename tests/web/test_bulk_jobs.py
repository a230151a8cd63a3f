"""Bulk actions on "all matching" rows above the inline limit: background jobs in batches, as their user.

The limit is 50 rows and a batch 40 here, on a few hundred rows: the same code paths as
5,000 and 2,000 on a million.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy.exc
from flask import Flask
from flask_appbuilder.models.sqla.filters import FilterEqual

from tests.support.apps import make_app
from tests.support.client import csrf_token, login
from tests.support.csv_files import as_dicts
from tests.support.users import ROLE_PASSWORD, make_role_user

BATCH = 40


@pytest.fixture
def app(pg, database):
    """The app with a low inline limit and small batches."""
    from app.extensions import db

    application = make_app(pg, database, BULK_INLINE_LIMIT=50, BULK_JOB_BATCH=BATCH)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def customers(sql):
    """300 customers: 120 in 'Retail', 180 in 'Energy'."""
    sql("INSERT INTO customers (name, industry) SELECT 'Bulk ' || g, CASE WHEN g % 5 < 2 THEN 'Retail' "
        "ELSE 'Energy' END FROM generate_series(1, 300) g")
    return sql


def _flt(app: Flask, route: str, column: str) -> str:
    from app.lists.links import filter_index

    with app.app_context():
        return f"_flt_{filter_index(route, column, FilterEqual)}_{column}"


def _submit(client, url: str, data: dict | None = None):
    """The confirmation page (which says the job runs in the background), then its POST."""
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    html = page.get_data(as_text=True)
    assert "crm-bulk-background" in html
    expected = html.split('name="expected" value="', 1)[1].split('"', 1)[0]
    return client.post(url, data={"csrf_token": csrf_token(client, url), "expected": expected, **(data or {})})


def _job_of(response) -> tuple[str, int]:
    """The job page a submission redirected to, and the job's id."""
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    assert "/bulk/jobs/" in location
    return location, int(location.rstrip("/").rsplit("/", 1)[1])


def _finish(job_id: int) -> None:
    from app.lists import bulk_jobs

    assert bulk_jobs.wait(job_id, timeout=60)


def _scheduler_pickup(app: Flask, minutes_later: int = 0) -> list[str]:
    """One pass of the scheduler's `bulk-jobs` job, as `crm scheduler run` would make it (its clock moved on)."""
    from app.scheduler import state
    from app.scheduler.catalog import JOBS
    from app.scheduler.runner import Runner

    def clock():
        return state.utcnow() + timedelta(minutes=minutes_later)

    return Runner(app, [j for j in JOBS if j.name == "bulk-jobs"], clock=clock).run_once()


def _status(client, page: str) -> dict:
    response = client.get(page + "/status")
    assert response.status_code == 200
    return response.get_json()


def test_delete_above_the_limit_is_a_job_logged_per_row_under_the_users_name(app, admin, customers):
    url = f"/customers/bulk/delete?all=1&{_flt(app, '/customers', 'industry')}=Retail"
    page, job_id = _job_of(_submit(admin, url))
    _finish(job_id)
    status = _status(admin, page)
    assert (status["status"], status["done"], status["total"], status["finished"]) == ("done", 120, 120, True)
    assert status["counts"] == "120 of 120 rows"
    assert customers("SELECT industry, count(*) FROM customers GROUP BY 1") == [("Energy", 180)]
    (admin_id,), = customers("SELECT user_id FROM users WHERE username = 'admin'")
    rows = customers("SELECT user_id, description FROM logs WHERE action = 'delete customers'")
    assert len(rows) == 120 and {r[0] for r in rows} == {admin_id}  # one entry per row, naming the user
    assert all(json.loads(r[1])["via"] == f"bulk job {job_id}" for r in rows)
    (entry, user), = customers("SELECT description, user_id FROM logs WHERE action = 'bulk delete'")
    assert json.loads(entry)["rows"] == 120 and json.loads(entry)["job"] == job_id and user == admin_id
    html = admin.get(page).get_data(as_text=True)
    assert "crm-bulk-job" in html and "120 of 120 rows" in html and "Done" in html
    listed = admin.get("/customers/list/").get_data(as_text=True)  # the list links to the user's recent job
    assert "crm-bulk-job-link" in listed and page.split("://", 1)[-1].split("/", 1)[-1] in listed


def test_set_a_field_as_a_job_follows_the_filter_and_quick_search(app, admin, sql):
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Owner') RETURNING customer_id")
    sql("INSERT INTO service_tickets (customer_id, subject, status, priority) SELECT :c, "
        "CASE WHEN g % 3 = 0 THEN 'Printer ' ELSE 'Network ' END || g, "
        "CASE WHEN g % 2 = 0 THEN 'open' ELSE 'closed' END, 'low' FROM generate_series(1, 400) g", c=cid)
    url = f"/tickets/bulk/set?all=1&q=network&{_flt(app, '/tickets', 'status')}=open&field=priority"
    page, job_id = _job_of(_submit(admin, url, {"field": "priority", "priority": "urgent"}))
    _finish(job_id)
    expected = sql("SELECT count(*) FROM service_tickets WHERE status = 'open' AND subject LIKE 'Network%'")[0][0]
    assert expected > 2 * BATCH  # several batches
    assert sql("SELECT count(*) FROM service_tickets WHERE priority = 'urgent'")[0][0] == expected
    assert sql("SELECT count(*) FROM service_tickets WHERE priority = 'urgent' AND (status <> 'open' "
               "OR subject NOT LIKE 'Network%')")[0][0] == 0
    assert sql("SELECT count(*) FROM logs WHERE action = 'update service_tickets'")[0][0] == expected
    assert _status(admin, page)["done"] == expected


def test_a_small_selection_still_runs_inline(app, admin, customers):
    customers("DELETE FROM customers WHERE name NOT IN ('Bulk 1', 'Bulk 2', 'Bulk 3')")
    url = "/customers/bulk/delete?all=1"
    page = admin.get(url).get_data(as_text=True)
    assert "crm-bulk-background" not in page
    expected = page.split('name="expected" value="', 1)[1].split('"', 1)[0]
    response = admin.post(url, data={"csrf_token": csrf_token(admin, url), "expected": expected})
    assert response.status_code == 302 and "/bulk/jobs/" not in response.headers["Location"]
    assert customers("SELECT count(*) FROM bulk_jobs") == [(0,)]
    assert customers("SELECT count(*) FROM customers") == [(0,)]


def test_a_refusal_stops_the_job_and_keeps_the_batches_done(app, admin, customers):
    keys = [r[0] for r in customers("SELECT customer_id FROM customers WHERE industry = 'Energy' "
                                    "ORDER BY customer_id")]
    blocked = keys[2 * BATCH + 5]  # in the third batch
    customers("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'Dep', 'Endant')", c=blocked)
    url = f"/customers/bulk/delete?all=1&{_flt(app, '/customers', 'industry')}=Energy"
    page, job_id = _job_of(_submit(admin, url))
    _finish(job_id)
    status = _status(admin, page)
    assert status["status"] == "failed" and status["done"] == 2 * BATCH
    assert "80 of 180" in status["message"] and "contacts" in status["message"]
    assert customers("SELECT count(*) FROM customers WHERE industry = 'Energy'") == [(180 - 2 * BATCH,)]
    assert customers("SELECT count(*) FROM customers WHERE customer_id = :c", c=blocked) == [(1,)]
    assert customers("SELECT count(*) FROM logs WHERE action = 'delete customers'") == [(2 * BATCH,)]
    (entry,), = customers("SELECT description FROM logs WHERE action = 'bulk delete'")
    assert json.loads(entry)["rows"] == 2 * BATCH and json.loads(entry)["status"] == "failed"


def test_the_role_is_checked_when_the_job_starts(app, client, admin, customers, owner_sql):
    from app.lists import bulk_jobs

    app.config["BULK_JOB_THREADS"] = False  # queued: the scheduler takes it up
    url = f"/customers/bulk/delete?all=1&{_flt(app, '/customers', 'industry')}=Retail"
    page, job_id = _job_of(_submit(admin, url))
    assert _status(admin, page)["status"] == "queued"
    # the admin's role loses the right to delete customers before the job runs
    owner_sql("DELETE FROM role_permissions WHERE role_id = (SELECT role_id FROM roles WHERE role_name = 'Admin') "
              "AND permission_id IN (SELECT p.permission_id FROM permissions p JOIN actions a "
              "ON a.id = p.action_id JOIN resources v ON v.id = p.resource_id "
              "WHERE a.name = 'can_delete' AND v.name = 'CustomerView')")
    assert _scheduler_pickup(app) == ["bulk-jobs"]
    with app.app_context():
        job = bulk_jobs.owned(job_id, *customers("SELECT user_id, 'CustomerView' FROM users "
                                                 "WHERE username = 'admin'")[0])
        assert job.status == "failed" and "Refused" in job.message and job.done == 0
    assert customers("SELECT count(*) FROM customers") == [(300,)]
    # and a role without the permission cannot ask at all
    other = app.test_client()
    login(other, make_role_user(app, "Sales Rep"), ROLE_PASSWORD)
    assert other.post(url, data={"csrf_token": csrf_token(other, "/"), "expected": "120"}).status_code == 403


def test_an_export_job_is_downloaded_by_its_owner_only(app, admin, customers):
    url = f"/customers/bulk/export?all=1&{_flt(app, '/customers', 'industry')}=Energy"
    page, job_id = _job_of(_submit(admin, url))
    _finish(job_id)
    status = _status(admin, page)
    assert status["status"] == "done" and status["download"]
    response = admin.get(status["download"])
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = as_dicts(response.get_data())
    assert len(rows) == 180 and {r["Industry"] for r in rows} == {"Energy"}
    assert list(rows[0]) == list(as_dicts(admin.get("/customers/export/").get_data())[0])  # the export's columns
    assert response.get_data().count(b"\xef\xbb\xbf") == 1  # one BOM, at the start
    (entry,), = customers("SELECT description FROM logs WHERE action = 'export' AND description LIKE '%job%'")
    assert json.loads(entry)["rows"] == 180
    # another user, even one who may export customers, sees neither the job nor its file
    other = app.test_client()
    login(other, make_role_user(app, "Auditor"), ROLE_PASSWORD)
    assert other.get(status["download"]).status_code == 404
    assert other.get(page + "/status").status_code == 404
    assert other.get(page).status_code == 404


def test_cancel_stops_the_job_after_the_batch_under_way(app, admin, customers):
    from app.lists import bulk_jobs

    app.config["BULK_JOB_THREADS"] = False
    url = f"/customers/bulk/delete?all=1&{_flt(app, '/customers', 'industry')}=Energy"
    page, job_id = _job_of(_submit(admin, url))
    assert bulk_jobs.run(app, job_id, max_batches=1) == job_id  # one batch, then the runner pauses
    assert _status(admin, page)["done"] == BATCH
    response = admin.post(page + "/cancel", data={"csrf_token": csrf_token(admin, page)})
    assert response.status_code == 302
    assert _scheduler_pickup(app) == ["bulk-jobs"]  # nothing left to take up
    status = _status(admin, page)
    assert (status["status"], status["done"], status["finished"]) == ("cancelled", BATCH, True)
    assert customers("SELECT count(*) FROM customers WHERE industry = 'Energy'") == [(180 - BATCH,)]
    html = admin.get(page).get_data(as_text=True)
    assert "crm-bulk-job-cancel" in html and "Cancelled" in html
    again = admin.post(page + "/cancel", data={"csrf_token": csrf_token(admin, page)}, follow_redirects=True)
    assert "already ended" in again.get_data(as_text=True)


def test_a_job_whose_runner_died_is_taken_over_by_the_scheduler(app, admin, customers):
    from app.lists import bulk_jobs

    app.config["BULK_JOB_THREADS"] = False
    url = f"/customers/bulk/delete?all=1&{_flt(app, '/customers', 'industry')}=Energy"
    page, job_id = _job_of(_submit(admin, url))
    # a runner that does two batches and dies: its lease still holds, so nobody else runs the job
    assert bulk_jobs.run(app, job_id, runner="dead-host:1:1", max_batches=2) == job_id
    assert _scheduler_pickup(app) == ["bulk-jobs"]
    assert customers("SELECT status, done, runner FROM bulk_jobs") == [("running", 2 * BATCH, "dead-host:1:1")]
    customers("UPDATE bulk_jobs SET lease_until = lease_until - interval '1 hour'")  # the lease runs out
    assert _scheduler_pickup(app, minutes_later=1) == ["bulk-jobs"]
    (status, done, runner), = customers("SELECT status, done, runner FROM bulk_jobs")
    assert (status, done) == ("done", 180) and runner != "dead-host:1:1"
    assert customers("SELECT count(*) FROM customers WHERE industry = 'Energy'") == [(0,)]
    # every row deleted once, logged once
    assert customers("SELECT count(*), count(DISTINCT record_key) FROM logs "
                     "WHERE action = 'delete customers'") == [(180, 180)]
    assert _status(admin, page)["status"] == "done"


def test_the_runtime_role_may_not_delete_jobs(admin, sql):
    sql("INSERT INTO bulk_jobs (user_id, screen, table_name, action, total) "
        "SELECT user_id, 'CustomerView', 'customers', 'delete', 1 FROM users WHERE username = 'admin'")
    with pytest.raises(sqlalchemy.exc.ProgrammingError) as refused:
        sql("DELETE FROM bulk_jobs")
    assert refused.value.orig.sqlstate == "42501"
    with pytest.raises(sqlalchemy.exc.ProgrammingError):
        sql("TRUNCATE bulk_job_parts")


def test_a_customer_set_as_a_job_keeps_each_activitys_contact_its_customers(app, admin, sql):
    """Refused before the job when a row disagrees; a row made to disagree after the job was asked stops it."""
    from app.lists import bulk_jobs

    app.config["BULK_JOB_THREADS"] = False
    (a,), (b,) = sql("INSERT INTO customers (name) VALUES ('Acme'), ('Bolt') RETURNING customer_id")
    (ann,), = sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:a, 'Ann', 'Lee') "
                  "RETURNING contact_id", a=a)
    sql("INSERT INTO activities (customer_id, type, subject) SELECT :a, 'call', 'Call ' || g "
        "FROM generate_series(1, 200) g", a=a)
    late = sql("SELECT max(activity_id) FROM activities")[0][0]
    sql("UPDATE activities SET contact_id = :c WHERE activity_id = :k", c=ann, k=late)
    url = f"/activities/bulk/set?all=1&{_flt(app, '/activities', 'type')}=call&field=customer"
    page = admin.get(url).get_data(as_text=True)
    expected = page.split('name="expected" value="', 1)[1].split('"', 1)[0]
    refused = admin.post(url, data={"csrf_token": csrf_token(admin, url), "expected": expected,
                                    "field": "customer", "customer": str(b)})
    assert refused.status_code == 409 and f"#{late} Call 200" in refused.get_data(as_text=True)
    assert sql("SELECT count(*) FROM bulk_jobs") == [(0,)]
    sql("UPDATE activities SET contact_id = NULL")
    page, job_id = _job_of(_submit(admin, url, {"field": "customer", "customer": str(b)}))
    sql("UPDATE activities SET contact_id = :c WHERE activity_id = :k", c=ann, k=late)  # meanwhile
    assert bulk_jobs.run(app, job_id) == job_id
    status = _status(admin, page)
    assert status["status"] == "failed" and f"#{late} Call 200" in status["message"]
    assert sql("SELECT customer_id, count(*) FROM activities GROUP BY 1 ORDER BY 1") == [(a, 200 - status["done"]),
                                                                                         (b, status["done"])]
    assert sql("SELECT customer_id FROM activities WHERE activity_id = :k", k=late) == [(a,)]


def test_an_export_job_follows_the_lists_sort_across_batches_and_a_takeover(app, admin, customers):
    """Sorted by a nullable column (values, then blanks, ties by key): the job's file is the inline export's."""
    from app.lists import bulk_jobs

    app.config["BULK_JOB_THREADS"] = False
    customers("UPDATE customers SET location = CASE WHEN customer_id % 7 = 0 THEN NULL "
              "ELSE 'City ' || (customer_id * 37 % 11) END")
    args = f"{_flt(app, '/customers', 'industry')}=Energy&_oc_CustomerView=location&_od_CustomerView=asc"
    page, job_id = _job_of(_submit(admin, f"/customers/bulk/export?all=1&{args}"))
    assert bulk_jobs.run(app, job_id, runner="dead-host:1:1", max_batches=2) == job_id
    customers("UPDATE bulk_jobs SET lease_until = lease_until - interval '1 hour'")  # the runner died
    assert _scheduler_pickup(app, minutes_later=1) == ["bulk-jobs"]
    status = _status(admin, page)
    assert status["status"] == "done"
    exported = [r["Name"] for r in as_dicts(admin.get(status["download"]).get_data())]
    inline = [r["Name"] for r in as_dicts(admin.get(f"/customers/export/?{args}").get_data())]
    assert exported == inline and len(exported) == 180
    assert exported != sorted(exported, key=lambda name: int(name.split()[1]))  # not in key order
    expected = customers("SELECT name FROM customers WHERE industry = 'Energy' "
                         "ORDER BY location ASC NULLS LAST, customer_id")
    assert exported == [name for (name,) in expected]
