"""After the database dropped the app's connections (a restart), the next request is answered, not a 503.

The pool pings only connections idle a while (app/web/availability.py); a signed-in request's session
check runs again on a new connection when the one it took had died (app/security/sessions.py).
"""
from __future__ import annotations

from sqlalchemy.engine import make_url

from app.web import availability


def drop_connections(pg, database: str) -> int:
    """End every server process of the test database, as a restart does; how many there were."""
    name = make_url(database).database
    rows = pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
    return len(rows)


def test_a_signed_in_page_right_after_the_connections_died_is_served(pg, database, admin):
    assert admin.get("/customers/list/").status_code == 200  # a pooled connection, just used: not pinged
    assert drop_connections(pg, database) >= 1
    response = admin.get("/customers/list/")
    assert response.status_code == 200, response.status_code
    assert "Retry-After" not in response.headers and 'class="navbar' in response.get_data(as_text=True)
    assert admin.get("/customers/list/").status_code == 200


def test_an_idle_connection_is_pinged_and_replaced_before_use(pg, database, client, monkeypatch):
    assert client.get("/health").status_code == 200  # signed out: no session check to retry
    assert drop_connections(pg, database) >= 1
    monkeypatch.setattr(availability, "IDLE_PING_SECONDS", 0.0)  # every pooled connection counts as idle
    response = client.get("/health")
    assert response.status_code == 200 and response.get_json()["status"] == "ok"


def test_a_connection_used_a_moment_ago_is_not_pinged(pg, database, client):
    """Without the ping, a signed-out request on a dead connection is the outage's 503 (the pool then
    replaces its connections: the next one is served)."""
    assert client.get("/health").status_code == 200
    assert drop_connections(pg, database) >= 1
    assert client.get("/health").status_code == 503
    assert client.get("/health").status_code == 200
