"""Redis connections for chat's counters, locks and rate limits.

Quotas, stream locks and rate limits live in Redis so that every ASGI process and
Celery worker sees the same numbers. Keys are always built from the tenant's schema
name explicitly (never from the current connection), under the run's key prefix.
"""
from __future__ import annotations

import asyncio
import weakref

import redis
import redis.asyncio
from django.conf import settings

_sync_client: redis.Redis | None = None
# One asyncio client per event loop: a connection pool cannot be shared between loops.
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
    weakref.WeakKeyDictionary()
)


def _options() -> dict:
    # A full pool makes callers wait (up to CHAT_REDIS_POOL_TIMEOUT) rather than fail at once:
    # a burst of adapters connecting together must not be refused for want of a connection.
    return {
        "max_connections": settings.CHAT_REDIS_MAX_CONNECTIONS,
        "timeout": settings.CHAT_REDIS_POOL_TIMEOUT,
        "socket_timeout": settings.CHAT_REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": settings.CHAT_REDIS_SOCKET_TIMEOUT,
    }


def sync_client() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        pool = redis.BlockingConnectionPool.from_url(settings.REDIS_URL, **_options())
        _sync_client = redis.Redis(connection_pool=pool)
    return _sync_client


def async_client() -> redis.asyncio.Redis:
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(settings.REDIS_URL, **_options())
        client = redis.asyncio.Redis(connection_pool=pool)
        _async_clients[loop] = client
    return client


def key(schema_name: str, *parts: object) -> str:
    """`<prefix>:chat:<schema>:<part>:<part>…`; the schema comes from the caller, explicitly."""
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or "maibot"
    return ":".join([prefix, "chat", schema_name, *map(str, parts)])
