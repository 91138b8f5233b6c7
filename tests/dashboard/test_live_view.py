"""The live view's WebSocket: session-authenticated, one agent of one tenant, nothing else."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
import websockets
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import tenant_context

from agents.models import Agent
from chat.delivery import publish_live_event
from tenants.models import Membership, Tenant

RECEIVE_TIMEOUT = 5.0


@pytest.fixture
def watcher(transactional_db, tenant_a: Tenant, tenant_b: Tenant, host_a: str) -> Iterator[dict]:
    """A viewer of tenant A with a signed-in session; an agent of the same slug in A and in B."""
    slug = f"live-{uuid.uuid4().hex[:6]}"
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            Agent.objects.create(slug=slug, name="Mai")
    user = get_user_model().objects.create_user(username=f"{slug}@example.com")
    Membership.objects.create(user=user, tenant=tenant_a, role="viewer")
    client = Client(HTTP_HOST=host_a)
    client.force_login(user)
    yield {"slug": slug, "session": client.cookies["sessionid"].value}
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            Agent.objects.filter(slug=slug).delete()


async def _open(server, host: str, slug: str, session: str | None):  # noqa: ANN001, ANN202
    headers = {"Cookie": f"sessionid={session}"} if session else {}
    # The URL names the tenant's host (sent as Host); the connection goes to the local server.
    return await websockets.connect(f"ws://{host}:{server.port}/ws/live/{slug}/", additional_headers=headers,
                                    host="127.0.0.1", port=server.port)


async def _closed_code(socket) -> int:  # noqa: ANN001
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(socket.recv(), RECEIVE_TIMEOUT)
    return closed.value.rcvd.code


async def test_a_member_sees_their_agents_events_and_not_the_other_tenants(web_server, watcher, tenant_a, tenant_b, host_a):
    socket = await _open(web_server, host_a, watcher["slug"], watcher["session"])
    hello = json.loads(await asyncio.wait_for(socket.recv(), RECEIVE_TIMEOUT))

    # the same agent slug in tenant B speaks first, then tenant A's agent
    await publish_live_event(tenant_b.schema_name, watcher["slug"], {"kind": "message_in", "text": "B's secret"})
    await publish_live_event(tenant_a.schema_name, watcher["slug"], {"kind": "message_in", "text": "hello A"})
    event = json.loads(await asyncio.wait_for(socket.recv(), RECEIVE_TIMEOUT))
    await socket.close()

    assert hello == {"kind": "hello", "agent": watcher["slug"]}
    assert event == {"kind": "message_in", "text": "hello A"}


async def test_a_visitor_without_a_session_is_closed_as_not_found(web_server, watcher, host_a):
    socket = await _open(web_server, host_a, watcher["slug"], None)

    assert await _closed_code(socket) == 4404


async def test_a_member_of_tenant_a_is_closed_as_not_found_on_tenant_bs_host(web_server, watcher, host_b):
    socket = await _open(web_server, host_b, watcher["slug"], watcher["session"])

    assert await _closed_code(socket) == 4404


async def test_an_agent_that_does_not_exist_is_closed_as_not_found(web_server, watcher, host_a):
    socket = await _open(web_server, host_a, "no-such-agent", watcher["session"])

    assert await _closed_code(socket) == 4404
