"""The agent list tells whether an adapter holds a connection, from a real adapter socket."""
from __future__ import annotations

import asyncio
import re
import time

from asgiref.sync import sync_to_async

from tests.chat.gateway_fixtures import connect_legacy

WAIT_SECONDS = 5.0


def _adapter_cell(html: str, slug: str) -> str:
    row = re.search(rf'<tr><td><a href="/agents/{slug}/">.*?</tr>', html, re.S).group(0)
    return re.findall(r"<td>(.*?)</td>", row, re.S)[2]


async def _wait_for_cell(client, slug: str, expected: str) -> str:  # noqa: ANN001
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        cell = _adapter_cell((await sync_to_async(client.get)("/agents/")).content.decode(), slug)
        if expected in cell or time.monotonic() > deadline:
            return cell
        await asyncio.sleep(0.05)  # the gateway records the connection right after accepting it


async def test_the_agent_list_shows_a_connected_adapter_until_it_leaves(web_server, make_adapter, member_client, tenant_a):
    adapter = await make_adapter(tenant_a)
    viewer = await sync_to_async(member_client)("viewer")
    before = _adapter_cell((await sync_to_async(viewer.get)("/agents/")).content.decode(), adapter.agent_slug)

    socket = await connect_legacy(f"ws://127.0.0.1:{web_server.port}/ws", adapter.key, platform="qq")
    connected = await _wait_for_cell(viewer, adapter.agent_slug, "qq connected")
    await socket.close()
    after = await _wait_for_cell(viewer, adapter.agent_slug, "not connected")

    assert "not connected" in before
    assert "qq connected" in connected
    assert "not connected" in after
