"""Fixtures for chat tests: clean Redis counters and plans with small limits."""
from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from chat import redis_clients
from tenants.models import Plan, Tenant


def forget_chat_counters(*tenants: Tenant) -> None:
    """Delete every chat key (quotas, locks, rate limits) of these tenants in Redis."""
    client = redis_clients.sync_client()
    for tenant in tenants:
        keys = list(client.scan_iter(match=redis_clients.key(tenant.schema_name, "*"), count=500))
        if keys:
            client.delete(*keys)


@pytest.fixture
def clean_counters(tenant_a: Tenant, tenant_b: Tenant) -> Iterator[None]:
    """Chat's Redis state of both session tenants, empty before and after the test."""
    forget_chat_counters(tenant_a, tenant_b)
    yield
    forget_chat_counters(tenant_a, tenant_b)


def give_plan(tenant: Tenant, *, daily_tokens: int = 1_000_000, monthly_cost: str = "50",
              daily_requests: int = 10_000) -> Plan:
    plan, _ = Plan.objects.update_or_create(
        name=f"test-{tenant.slug}",
        defaults={"display_name": "Test", "daily_tokens": daily_tokens,
                  "monthly_cost": Decimal(monthly_cost), "daily_requests": daily_requests},
    )
    tenant.plan = plan
    tenant.save(update_fields=["plan"])
    return plan
