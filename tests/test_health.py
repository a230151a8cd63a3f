"""The /health endpoint: open, honest, and without secrets."""


def test_health_ok_without_login(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert "password" not in response.get_data(as_text=True).lower()


def test_health_503_when_database_is_down(pg):
    from tests.conftest import make_app

    app = make_app(pg, "postgresql+psycopg://crm_owner:x@/nosuchdb?host=/nonexistent")
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
