"""The /health endpoint: open, honest, and without secrets."""
from tests.support.faults import stopped_statement


def test_health_ok_without_login(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert "password" not in response.get_data(as_text=True).lower()


def test_health_503_when_database_is_down(pg):
    from tests.support.apps import make_app

    app = make_app(pg, "postgresql+psycopg://crm_owner:x@/nosuchdb?host=/nonexistent")
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


def test_a_stopped_statement_is_a_503_that_says_so_not_a_lost_database(app):
    """A statement the database cancels (statement_timeout) answers 503 with its own message."""
    from app.web.availability import MESSAGE, TIMEOUT_MESSAGE

    response = stopped_statement(app, "/customers/list/")
    body = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "took too long" in body and str(MESSAGE) not in body
    response = stopped_statement(app, "/api/v1/customers/", Accept="application/json")
    assert response.status_code == 503 and response.get_json()["message"] == TIMEOUT_MESSAGE
