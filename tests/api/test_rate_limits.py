from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.api_fixtures import key_client


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    # Earlier tests in the same minute have counted requests for these tenants.
    cache.clear()


def test_a_key_over_its_limit_gets_429_with_retry_after(host_a, agent_a, tenant_a, key_for, settings):
    settings.API_RATE_LIMIT_PER_KEY = 3
    client = key_client(host_a, key_for(tenant_a))

    statuses = [client.get("/api/v2/agents").status_code for _ in range(4)]
    limited = client.get("/api/v2/agents")

    assert statuses == [200, 200, 200, 429]
    assert limited.json()["error_code"] == "RATE_LIMITED"
    assert 1 <= int(limited["Retry-After"]) <= settings.API_RATE_WINDOW_SECONDS


def test_the_tenant_limit_spans_all_its_keys(host_a, agent_a, tenant_a, key_for, settings):
    settings.API_RATE_LIMIT_PER_TENANT = 2
    first, second = key_client(host_a, key_for(tenant_a)), key_client(host_a, key_for(tenant_a))

    assert first.get("/api/v2/agents").status_code == 200
    assert second.get("/api/v2/agents").status_code == 200
    assert first.get("/api/v2/agents").status_code == 429


def test_one_tenants_traffic_does_not_limit_another(host_a, host_b, agent_a, agent_b, tenant_a, tenant_b, key_for, settings):
    settings.API_RATE_LIMIT_PER_TENANT = 1
    a, b = key_client(host_a, key_for(tenant_a)), key_client(host_b, key_for(tenant_b))

    assert a.get("/api/v2/agents").status_code == 200
    assert a.get("/api/v2/agents").status_code == 429
    assert b.get("/api/v2/agents").status_code == 200
