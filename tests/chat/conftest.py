"""Fixtures for chat tests: clean Redis counters and plans with small limits."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from agents import llm_catalog
from agents.audit import SYSTEM
from agents.models import LLMModel, LLMProvider
from chat import redis_clients
from tenants.models import Plan, Tenant
from tests.chat.gateway_fixtures import gateway, make_adapter  # noqa: F401 - fixtures
from tests.fakes.openai_server import FakeOpenAI


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


@pytest.fixture(autouse=True)
def _no_retry_backoff(settings) -> None:
    """Retries still happen in tests, just without waiting between them."""
    settings.LLM_RETRY_BACKOFF_SECONDS = 0


@dataclass(frozen=True)
class Route:
    """The shape of `agents.llm_routes.ModelRoute` (contracts.md), for calling given models."""

    model_name: str
    identifier: str
    base_url: str
    api_key: str = "sk-test"
    timeout: float = 5.0
    max_retries: int = 0
    price_in: Decimal = Decimal("0")
    price_out: Decimal = Decimal("0")
    temperature: float | None = None
    max_tokens: int | None = None


def route_to(server: FakeOpenAI, name: str, **fields) -> Route:
    """A model served by the local OpenAI stand-in (its identifier is `<name>-id`)."""
    return Route(model_name=name, identifier=f"{name}-id", base_url=server.url, **fields)


def use_models(server: FakeOpenAI, task: str, names: list[str], *, max_retries: int = 0, timeout: float = 5.0,
               price_in: str = "0", price_out: str = "0", max_tokens: int | None = None) -> None:
    """Configure the current tenant's `task` list with models served by the local server.

    Each model's identifier at the server is `<name>-id`; one provider per call.
    """
    provider_name = f"local-{task}"
    provider = LLMProvider.objects.filter(name=provider_name).first() or llm_catalog.create_provider(
        actor=SYSTEM, name=provider_name, base_url=server.url, api_key="sk-test", timeout_seconds=timeout,
        max_retries=max_retries,
    )
    for name in names:
        if not LLMModel.objects.filter(name=name).exists():
            llm_catalog.create_model(actor=SYSTEM, name=name, provider=provider, identifier=f"{name}-id",
                                     price_in=price_in, price_out=price_out)
    llm_catalog.set_task_models(task, names, actor=SYSTEM, max_tokens=max_tokens)
