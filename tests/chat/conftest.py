"""Fixtures for chat tests: the gateway, clean Redis counters, plans with small limits, local models."""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction

from agents import llm_catalog
from agents.audit import SYSTEM
from agents.models import Agent, LLMModel, LLMProvider
from chat import pipeline, redis_clients, services
from chat.models import Message
from chat.protocol import InboundMessage
from tenants.models import Plan, Tenant
from tenants.services import forget_hosts
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
def _quick_test_settings(settings) -> None:
    """Retries still happen in tests, just without waiting between them."""
    settings.LLM_RETRY_BACKOFF_SECONDS = 0
    # Transactional tests re-create the session tenants' owners after each flush; a slow
    # password hash would dominate their run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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


# --- the pipeline ---------------------------------------------------------------------------------


@pytest.fixture
def mai(committed: None, in_tenant_a: Tenant, openai_server: FakeOpenAI, clean_counters: None) -> Agent:
    """Tenant A's agent "mai" (qq account 10001) with replyer and planner models served locally."""
    agent = Agent.objects.create(
        slug="mai", name="Mai", persona="a cheerful librarian", reply_style="short and warm",
        platform_accounts={"qq": "10001"},
    )
    use_models(openai_server, "replyer", ["talker"])
    use_models(openai_server, "planner", ["thinker"])
    return agent


def say(agent: Agent, text: str = "hello", *, group_id: str | None = "g1", user_id: str = "u1",
        nickname: str = "Alice", message_id: str | None = None, segments: list | None = None,
        platform: str = "qq") -> Message:
    """Store an inbound message as the gateway does (inside the agent's tenant schema)."""
    inbound = InboundMessage(
        platform=platform, message_id=message_id or uuid.uuid4().hex[:12], user_id=user_id,
        segment={"type": "seglist", "data": segments or [{"type": "text", "data": text}]}, time=time.time(),
        group_id=group_id or "", group_name="Book club" if group_id else "", nickname=nickname,
    )
    return services.receive_message(agent, inbound).message


def run_inbound(tenant: Tenant, message: Message) -> None:
    """What the gateway does after storing a message, run to the end."""
    stream = message.stream
    async_to_sync(pipeline.handle_inbound)(tenant, stream.agent.slug, stream.platform, stream.stream_id, message.pk)


def replies_in(message: Message) -> list[Message]:
    return list(Message.objects.filter(stream=message.stream, direction="out").order_by("pk"))


def wipe_tenant_schemas(*tenants: Tenant) -> None:
    """Empty every table of these tenants' schemas (transactional tests commit their rows).

    DELETE rather than TRUNCATE: on small tables it is far quicker, and the foreign keys
    (deferred) are only checked at commit, when everything is gone.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        for tenant in tenants:
            cursor.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename <> 'django_migrations'",
                [tenant.schema_name],
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DELETE FROM "{tenant.schema_name}"."{name}"')


@pytest.fixture
def committed(transactional_db, tenant_a: Tenant, tenant_b: Tenant) -> Iterator[None]:
    """For tests whose rows are committed (the pipeline's database work runs through
    database_sync_to_async, which needs real transactions): both tenants' schemas are
    emptied before (other tests' background turns may have finished late) and after."""
    connection.set_schema_to_public()
    wipe_tenant_schemas(tenant_a, tenant_b)
    # After a flush the tenants' rows are new; the cached host lookups still hold the old ones.
    forget_hosts(tenant_a)
    forget_hosts(tenant_b)
    yield
    connection.set_schema_to_public()
    wipe_tenant_schemas(tenant_a, tenant_b)
