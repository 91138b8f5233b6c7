"""Outbound messages through the gateway: routing, isolation, replay, delivery records."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import tenant_context
from maim_message import RouteConfig, Router, TargetConfig

from chat.delivery import send_to_adapter
from chat.models import ChatStream, Message
from tests.chat.gateway_fixtures import RECEIVE_TIMEOUT, connect_legacy, message_frame, receive_json
from tests.chat.test_gateway import barrier, stop_router, wait_until_connected

pytestmark = pytest.mark.django_db(transaction=True)


async def open_stream(gateway_url: str, adapter, *, group_id=123456789, user_id=987654321, message_id=1) -> str:
    """Have the adapter say something, which creates the stream; returns its stream id."""
    ws = await connect_legacy(gateway_url, adapter.key)
    await ws.send(json.dumps(message_frame(message_id, group_id=group_id, user_id=user_id)))
    await barrier(ws)
    await ws.close()
    return await stream_of(adapter)


@sync_to_async
def stream_of(adapter) -> str:
    with tenant_context(adapter.tenant):
        return ChatStream.objects.get(agent__slug=adapter.agent_slug).stream_id


@sync_to_async
def outbound_rows(adapter) -> list[Message]:
    with tenant_context(adapter.tenant):
        return list(Message.objects.filter(stream__agent__slug=adapter.agent_slug, direction="out").order_by("pk"))


async def until(condition, timeout: float = RECEIVE_TIMEOUT):
    """Poll an async condition (database state written by the server) until it holds."""
    deadline = time.monotonic() + timeout
    while not (result := await condition()):
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)
    return result


def texts_of(frame: dict) -> list[str]:
    return [seg["data"] for seg in frame["message_segment"]["data"] if seg["type"] == "text"]


async def test_a_reply_reaches_the_connected_adapter_quoting_its_message(gateway, tenant_a, make_adapter):
    # given
    adapter = await make_adapter(tenant_a)
    stream_id = await open_stream(gateway.url, adapter)
    ws = await connect_legacy(gateway.url, adapter.key)
    await barrier(ws)
    # when
    pk = await send_to_adapter(tenant_a, adapter.agent_slug, "qq", stream_id, text="hi Alice", reply_to="1")
    frame = await receive_json(ws)
    # then: a bare MessageBase to the group, quoting first
    info = frame["message_info"]
    assert "is_custom_message" not in frame
    assert info["platform"] == "qq"
    assert info["group_info"]["group_id"] == "123456789"
    assert info["user_info"]["user_id"] == "10001"  # the bot itself
    assert frame["message_segment"]["data"] == [{"type": "reply", "data": "1"}, {"type": "text", "data": "hi Alice"}]
    [row] = await outbound_rows(adapter)
    assert row.pk == pk
    assert info["message_id"] == row.platform_message_id
    assert (row.delivery, row.attempts) == ("sent", 1)
    await ws.close()


async def test_a_private_reply_names_the_user(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    stream_id = await open_stream(gateway.url, adapter, group_id=None, user_id=555)
    ws = await connect_legacy(gateway.url, adapter.key)
    await barrier(ws)
    await send_to_adapter(tenant_a, adapter.agent_slug, "qq", stream_id, text="psst")
    frame = await receive_json(ws)
    assert "group_info" not in frame["message_info"]
    assert frame["message_info"]["user_info"]["user_id"] == "555"
    assert texts_of(frame) == ["psst"]
    await ws.close()


async def test_tenant_b_never_receives_tenant_a_replies_with_the_same_ids(gateway, tenant_a, tenant_b, make_adapter):
    # given: both tenants have an agent of the same slug, on the same platform, same group and user
    adapter_a = await make_adapter(tenant_a, "twin")
    adapter_b = await make_adapter(tenant_b, "twin")
    stream_a = await open_stream(gateway.url, adapter_a)
    stream_b = await open_stream(gateway.url, adapter_b)
    assert stream_a != stream_b
    ws_a = await connect_legacy(gateway.first.url, adapter_a.key)
    ws_b = await connect_legacy(gateway.second.url, adapter_b.key)
    await barrier(ws_a)
    await barrier(ws_b)
    # when: A's agent replies twice, then B's once
    await send_to_adapter(tenant_a, "twin", "qq", stream_a, text="for A only")
    await send_to_adapter(tenant_a, "twin", "qq", stream_a, text="for A again")
    await send_to_adapter(tenant_b, "twin", "qq", stream_b, text="for B")
    # then: B's first frame is its own; A got both of its own
    assert texts_of(await receive_json(ws_b)) == ["for B"]
    assert texts_of(await receive_json(ws_a)) == ["for A only"]
    assert texts_of(await receive_json(ws_a)) == ["for A again"]
    await barrier(ws_b)  # and nothing else was waiting for B
    # and: A's stream cannot be used for B's agent
    with pytest.raises(ChatStream.DoesNotExist):
        await send_to_adapter(tenant_b, "twin", "qq", stream_a, text="cross")
    assert [m.text for m in await outbound_rows(adapter_b)] == ["for B"]
    await ws_a.close()
    await ws_b.close()


async def test_replies_to_an_offline_adapter_are_replayed_in_order_on_reconnect(gateway, tenant_a, make_adapter):
    # given: the adapter went away
    adapter = await make_adapter(tenant_a)
    stream_id = await open_stream(gateway.url, adapter)
    # when: the agent replies three times meanwhile
    for text in ("one", "two", "three"):
        await send_to_adapter(tenant_a, adapter.agent_slug, "qq", stream_id, text=text)
    assert [m.delivery for m in await outbound_rows(adapter)] == ["pending"] * 3
    # then: the real Router client gets them, in order, once it reconnects
    received: list[dict] = []
    arrived = asyncio.Event()

    async def on_message(message: dict) -> None:
        received.append(message)
        if len(received) == 3:
            arrived.set()

    router = Router(RouteConfig(route_config={"qq": TargetConfig(url=gateway.url, token=adapter.key)}))
    router.register_class_handler(on_message)
    task = asyncio.create_task(router.run())
    try:
        await asyncio.wait_for(arrived.wait(), timeout=10)
    finally:
        await stop_router(router, task)
    assert [texts_of(frame) for frame in received] == [["one"], ["two"], ["three"]]
    assert [m.delivery for m in await outbound_rows(adapter)] == ["sent"] * 3


async def test_a_replayed_reply_is_not_sent_twice(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    stream_id = await open_stream(gateway.url, adapter)
    await send_to_adapter(tenant_a, adapter.agent_slug, "qq", stream_id, text="waiting")
    ws = await connect_legacy(gateway.url, adapter.key)
    assert texts_of(await receive_json(ws)) == ["waiting"]
    again = await connect_legacy(gateway.url, adapter.key)  # replaces ws; nothing is pending any more
    await barrier(again)
    await send_to_adapter(tenant_a, adapter.agent_slug, "qq", stream_id, text="fresh")
    assert texts_of(await receive_json(again)) == ["fresh"]
    await again.close()


async def test_message_id_echo_records_the_platform_id(gateway, tenant_a, make_adapter):
    # given: the Router client connected and answering each bot message with an echo, as the NapCat adapter does
    adapter = await make_adapter(tenant_a)
    stream_id = await open_stream(gateway.url, adapter)
    router = Router(RouteConfig(route_config={"qq": TargetConfig(url=gateway.url, token=adapter.key)}))

    async def on_message(message: dict) -> None:
        await router.send_custom_message("qq", "message_id_echo", {
            "type": "echo", "echo": message["message_info"]["message_id"], "actual_id": 778899,
        })

    router.register_class_handler(on_message)
    task = asyncio.create_task(router.run())
    try:
        await wait_until_connected(router)
        # when
        await send_to_adapter(tenant_a, adapter.agent_slug, "qq", stream_id, text="deliver me")

        async def delivered():
            rows = await outbound_rows(adapter)
            return rows if rows and rows[0].delivery == "delivered" else None

        [row] = await until(delivered)
    finally:
        await stop_router(router, task)
    # then
    assert row.platform_actual_id == "778899"
    assert row.delivered_at is not None


async def test_an_echo_for_another_tenants_message_changes_nothing(gateway, tenant_a, tenant_b, make_adapter):
    adapter_a = await make_adapter(tenant_a, "twin")
    adapter_b = await make_adapter(tenant_b, "twin")
    stream_a = await open_stream(gateway.url, adapter_a)
    await send_to_adapter(tenant_a, "twin", "qq", stream_a, text="A's")
    [row] = await outbound_rows(adapter_a)
    ws_b = await connect_legacy(gateway.url, adapter_b.key)
    await ws_b.send(json.dumps({"platform": "qq", "message_type_name": "message_id_echo", "is_custom_message": True,
                                "content": {"type": "echo", "echo": row.platform_message_id, "actual_id": "1"}}))
    await barrier(ws_b)
    [row] = await outbound_rows(adapter_a)
    assert (row.delivery, row.platform_actual_id) == ("pending", "")
    await ws_b.close()


async def test_a_reply_produced_elsewhere_reaches_the_socket_on_the_second_server(gateway, tenant_a, make_adapter):
    # given: the adapter is connected to the second server (its own ASGI app and event loop)
    adapter = await make_adapter(tenant_a)
    stream_id = await open_stream(gateway.first.url, adapter)
    ws = await connect_legacy(gateway.second.url, adapter.key)
    await barrier(ws)
    # when: this test process (neither server) produces the reply
    await send_to_adapter(tenant_a, adapter.agent_slug, "qq", stream_id, text="across processes")
    # then
    assert texts_of(await receive_json(ws)) == ["across processes"]
    await ws.close()
