"""Liveness and readiness probes, answered before tenant resolution on any host."""
from __future__ import annotations

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> None:
    timeout = settings.READINESS_TIMEOUT_SECONDS
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        client.ping()
    finally:
        client.close()


def check_celery() -> None:
    from maibot.celery import app

    # limit=1: answer as soon as one worker replies instead of waiting out the timeout
    replies = app.control.ping(timeout=settings.READINESS_TIMEOUT_SECONDS, limit=1)
    if not replies:
        raise RuntimeError("no Celery worker answered a ping")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "celery": check_celery,
}


def readiness() -> tuple[bool, dict[str, dict[str, object]]]:
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # any failure makes the part not ready; report it
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        else:
            results[name] = {"ok": True}
        results[name]["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    return all(part["ok"] for part in results.values()), results


class HealthMiddleware:
    """Serves /healthz and /readyz without looking up a tenant."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            ready, parts = readiness()
            failing = [name for name, part in parts.items() if not part["ok"]]
            body = {"status": "ok" if ready else "unavailable", "failing": failing, "checks": parts}
            return JsonResponse(body, status=200 if ready else 503)
        return self.get_response(request)
