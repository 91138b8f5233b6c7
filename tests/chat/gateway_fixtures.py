"""Fixtures for gateway tests: real uvicorn servers in this process, agents and adapter keys.

The servers run in threads of the test process so they use the test database; tests that
talk to them need committed data (`@pytest.mark.django_db(transaction=True)`). Two servers
with separate ASGI application instances and event loops share Redis, as two production
processes would.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
import websockets
from asgiref.sync import sync_to_async
from channels.routing import ProtocolTypeRouter, URLRouter
from django_tenants.utils import tenant_context

from agents.models import Agent
from maibot.embedded import _free_port
from tenants import apikeys
from tenants.models import Tenant

SERVER_START_TIMEOUT = 10.0
RECEIVE_TIMEOUT = 5.0


class ServerThread:
    """uvicorn serving an ASGI app on a free port, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


def _fresh_application() -> ProtocolTypeRouter:
    """A separate ASGI application instance built from the project's routes."""
    import maibot.asgi  # noqa: F401 - sets Django up the way production does
    from maibot.routing import websocket_urlpatterns

    return ProtocolTypeRouter({"websocket": URLRouter(websocket_urlpatterns)})


@dataclass(frozen=True)
class Gateway:
    first: ServerThread
    second: ServerThread

    @property
    def url(self) -> str:
        return self.first.url


@pytest.fixture(scope="session")
def gateway() -> Iterator[Gateway]:
    """Two gateway servers (separate app instances, one Redis), up for the whole session."""
    from maibot.asgi import application

    first = ServerThread(application).start()
    second = ServerThread(_fresh_application()).start()
    yield Gateway(first, second)
    first.stop()
    second.stop()


@dataclass(frozen=True)
class Adapter:
    """An agent of a tenant with a chat key, as an adapter would be configured."""

    tenant: Tenant
    agent_slug: str
    key: str


@pytest.fixture
def make_adapter(transactional_db) -> Iterator[Callable[..., Awaitable[Adapter]]]:
    """Create an agent (unique slug unless given) and a key for it; the agent is removed afterwards.

    Gateway tests commit their data, so what they create in tenant schemas is deleted here.
    """
    created: list[tuple[Tenant, str]] = []

    def make_now(tenant: Tenant, slug: str | None, scopes: tuple[str, ...], active: bool, account: str) -> Adapter:
        slug = slug or f"gw-{uuid.uuid4().hex[:8]}"
        with tenant_context(tenant):
            Agent.objects.create(slug=slug, name="Mai", platform_accounts={"qq": account}, is_active=active)
        created.append((tenant, slug))
        key = apikeys.issue_api_key(tenant, slug, name="adapter", scopes=list(scopes)).plaintext
        return Adapter(tenant, slug, key)

    async def make(tenant: Tenant, slug: str | None = None, *, scopes: tuple[str, ...] = ("chat",),
                   active: bool = True, account: str = "10001") -> Adapter:
        return await sync_to_async(make_now)(tenant, slug, scopes, active, account)

    yield make
    _wait_for_pipeline_runs()
    for tenant, slug in created:
        with tenant_context(tenant):
            Agent.objects.filter(slug=slug).delete()


def _wait_for_pipeline_runs(timeout: float = 10.0) -> None:
    """Let turns started by the test finish before their agent is deleted under them."""
    from chat import consumers

    deadline = time.monotonic() + timeout
    while consumers._pipeline_runs and time.monotonic() < deadline:
        time.sleep(0.05)


# --- raw WebSocket clients ---------------------------------------------------------------------------


async def connect_legacy(url: str, key: str, platform: str = "qq") -> websockets.ClientConnection:
    return await websockets.connect(url, additional_headers={"platform": platform, "Authorization": key},
                                    max_size=None)


async def connect_api(url: str, key: str, platform: str = "qq", *, connection_uuid: str = "conn-1",
                      in_query: bool = False) -> websockets.ClientConnection:
    if in_query:
        return await websockets.connect(f"{url}?api_key={key}&platform={platform}", max_size=None)
    headers = {"x-apikey": key, "x-platform": platform, "x-uuid": connection_uuid}
    return await websockets.connect(url, additional_headers=headers, max_size=None)


async def receive_json(ws: websockets.ClientConnection, timeout: float = RECEIVE_TIMEOUT) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout))


async def close_code(ws: websockets.ClientConnection, timeout: float = RECEIVE_TIMEOUT) -> tuple[int, str]:
    """Wait for the server to close the socket; its close code and reason."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout=timeout)
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None, "the server did not send a close frame"
        return closed.rcvd.code, closed.rcvd.reason


def message_frame(message_id: Any = 1001, *, text: str = "hello", group_id: Any = 123456789,
                  user_id: Any = 987654321, platform: str = "qq", segments: list | None = None) -> dict[str, Any]:
    """A legacy MessageBase frame as the NapCat adapter sends it (integer ids)."""
    info: dict[str, Any] = {
        "platform": platform, "message_id": message_id, "time": time.time(),
        "user_info": {"platform": platform, "user_id": user_id, "user_nickname": "Alice", "user_cardname": None},
    }
    if group_id is not None:
        info["group_info"] = {"platform": platform, "group_id": group_id, "group_name": "test group"}
    return {
        "message_info": info,
        "message_segment": {"type": "seglist", "data": segments or [{"type": "text", "data": text}]},
    }
