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


def _count_lag_reads(monkeypatch) -> list:
    """Every read of the archiver's lag (each opens a superuser connection), still done for real."""
    from app.backup import wal

    reads, real = [], wal.archive_lag
    monkeypatch.setattr(wal, "archive_lag", lambda settings: reads.append(settings) or real(settings))
    return reads


def test_health_with_database_url_does_not_read_the_archiver(client, monkeypatch):
    reads = _count_lag_reads(monkeypatch)
    for _ in range(3):
        assert client.get("/health").get_json()["status"] == "ok"
    assert reads == []  # archiving is never set up on an external server


def test_repeated_health_reads_the_archiver_once_per_interval(app, client, monkeypatch):
    from app.scheduler import health

    reads = _count_lag_reads(monkeypatch)
    monkeypatch.setattr(health, "archives_wal", lambda config: True)  # as the embedded server does
    for _ in range(5):
        assert client.get("/health").status_code == 200
    assert len(reads) == 1
    monkeypatch.setattr(health, "ARCHIVE_LAG_TTL", 0)  # the interval over: read again
    client.get("/health")
    assert len(reads) == 2
