"""Adapter connections: who may connect, which connection is current, which frames were seen.

The gateway consumer calls these; they hold no per-process state. Which connection is
current for a (tenant, agent, platform) lives in Redis so that a newer connection on any
ASGI process replaces the older one; remembered API-Server `msg_id`s live there too.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django_tenants.utils import schema_context, tenant_context

from chat import redis_clients
from tenants.apikeys import ApiKeyRejected, authenticate_api_key

if TYPE_CHECKING:
    from agents.models import Agent
    from tenants.models import Tenant

PLATFORM_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
CHAT_SCOPE = "chat"


class AdapterRefused(Exception):
    """The adapter may not connect (or go on); the socket closes with 1008 and `message`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AdapterIdentity:
    tenant: Tenant
    agent: Agent  # as it was at connect time; its row is not re-read for every message
    platform: str

    @property
    def agent_slug(self) -> str:
        return self.agent.slug


def check_platform(platform: str | None) -> str:
    if not platform or not PLATFORM_PATTERN.match(platform):
        raise AdapterRefused("invalid_platform", "Send the platform name (letters, digits, _ . -; at most 32).")
    return platform


def authenticate_adapter(raw_key: str | None, platform: str | None) -> AdapterIdentity:
    """Resolve the key to a tenant and an active agent allowed to chat. Sync (ORM)."""
    platform = check_platform(platform)
    if not raw_key:
        raise AdapterRefused("missing_key", "Send the agent's API key.")
    if raw_key.lower().startswith("bearer "):
        raw_key = raw_key[7:]
    try:
        with schema_context("public"):  # the key index lives in the public schema
            identity = authenticate_api_key(raw_key)
    except ApiKeyRejected as exc:
        raise AdapterRefused(exc.code, exc.message) from None
    if not identity.has_scope(CHAT_SCOPE):
        raise AdapterRefused("missing_scope", "The API key lacks the chat scope.")
    from agents.models import Agent

    with tenant_context(identity.tenant):
        agent = Agent.objects.filter(slug=identity.agent_slug, is_active=True).first()
    if agent is None:
        raise AdapterRefused("agent_inactive", "The agent is missing or inactive.")
    return AdapterIdentity(identity.tenant, agent, platform)


# --- which connection is current -----------------------------------------------------------------


def _owner_key(schema_name: str, agent_slug: str, platform: str) -> str:
    return redis_clients.key(schema_name, "adapter", agent_slug, platform)


# Delete the owner key only if it still names this connection (a newer one may own it now).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


async def take_over(schema_name: str, agent_slug: str, platform: str, channel_name: str) -> None:
    """Mark this connection as the current one, until released or CHAT_ADAPTER_CLAIM_SECONDS pass."""
    await redis_clients.async_client().set(_owner_key(schema_name, agent_slug, platform), channel_name,
                                           ex=settings.CHAT_ADAPTER_CLAIM_SECONDS)


async def is_current(schema_name: str, agent_slug: str, platform: str, channel_name: str) -> bool:
    owner = await redis_clients.async_client().get(_owner_key(schema_name, agent_slug, platform))
    return owner is not None and owner.decode() == channel_name


async def release(schema_name: str, agent_slug: str, platform: str, channel_name: str) -> None:
    await redis_clients.async_client().eval(_RELEASE, 1, _owner_key(schema_name, agent_slug, platform), channel_name)


# --- API-Server mode: duplicate msg_ids ------------------------------------------------------------


async def first_sighting(schema_name: str, agent_slug: str, platform: str, msg_id: str) -> bool:
    """True the first time a msg_id is seen within CHAT_DEDUP_SECONDS for this adapter.

    A sorted set per (tenant, agent, platform) scored by time: old ids expire, and it never
    holds more than CHAT_DEDUP_MAX_IDS ids.
    """
    key = redis_clients.key(schema_name, "seen", agent_slug, platform)
    now = time.time()
    window = settings.CHAT_DEDUP_SECONDS
    async with redis_clients.async_client().pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", now - window)
        pipe.zadd(key, {msg_id: now}, nx=True)
        pipe.zremrangebyrank(key, 0, -settings.CHAT_DEDUP_MAX_IDS - 1)
        pipe.expire(key, window)
        results = await pipe.execute()
    return bool(results[1])
