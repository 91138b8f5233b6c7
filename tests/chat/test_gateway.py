"""The /ws gateway in legacy maim_message mode: handshake, frames, storage, replacement."""
from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django_tenants.utils import tenant_context
from maim_message import BaseMessageInfo, GroupInfo, MessageBase, RouteConfig, Router, Seg, TargetConfig, UserInfo

from chat.delivery import live_group
from chat.models import Message
from maibot.context import IsolationLogFilter
from tenants import services as tenant_services
from tests.chat.gateway_fixtures import close_code, connect_legacy, message_frame, receive_json

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def stored_messages(tenant, agent_slug):
    with tenant_context(tenant):
        return list(
            Message.objects.filter(stream__agent__slug=agent_slug)
            .select_related("stream", "sender")
            .order_by("pk")
        )


async def barrier(ws) -> dict:
    """Frames are handled in order: once a bad frame's error comes back, earlier frames are stored."""
    await ws.send("not json")
    error = await receive_json(ws)
    assert error["content"]["code"] == "invalid_json"
    return error


async def stop_router(router: Router, task: asyncio.Task) -> None:
    """Stop the Router client; 0.6.8 re-raises the cancellation of a client caught retrying."""
    try:
        await router.stop()
    except asyncio.CancelledError:
        pass
    task.cancel()


async def wait_until_connected(router: Router, platform: str = "qq", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not router.check_connection(platform):
        assert time.monotonic() < deadline, "the Router client did not connect"
        await asyncio.sleep(0.05)


# --- handshake ----------------------------------------------------------------------------------


async def test_a_wrong_key_is_refused_with_1008(gateway, tenant_a, make_adapter):
    await make_adapter(tenant_a)
    ws = await connect_legacy(gateway.url, "mmc_alpha_nobody_0000000000000000000000000000000000000000_v1")
    code, reason = await close_code(ws)
    assert code == 1008
    assert reason == "The API key is not valid."


async def test_a_key_without_the_chat_scope_is_refused(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a, scopes=("config_read",))
    ws = await connect_legacy(gateway.url, adapter.key)
    assert await close_code(ws) == (1008, "The API key lacks the chat scope.")


async def test_an_inactive_agent_is_refused(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a, active=False)
    ws = await connect_legacy(gateway.url, adapter.key)
    assert await close_code(ws) == (1008, "The agent is missing or inactive.")


async def test_a_suspended_tenant_is_refused(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    await sync_to_async(tenant_services.suspend_tenant)(tenant_a.slug)
    try:
        ws = await connect_legacy(gateway.url, adapter.key)
        assert await close_code(ws) == (1008, "The organisation is suspended.")
    finally:
        await sync_to_async(tenant_services.resume_tenant)(tenant_a.slug)


async def test_a_connection_without_platform_is_refused(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    ws = await websockets.connect(gateway.url, additional_headers={"Authorization": adapter.key})
    code, reason = await close_code(ws)
    assert code == 1008
    assert "platform" in reason


# --- inbound messages ---------------------------------------------------------------------------


async def test_the_router_client_message_is_stored_with_integer_ids_as_strings(gateway, tenant_a, make_adapter):
    # given: the real maim_message 0.6.8 Router, configured as a deployed adapter is
    adapter = await make_adapter(tenant_a)
    router = Router(RouteConfig(route_config={"qq": TargetConfig(url=gateway.url, token=adapter.key)}))
    task = asyncio.create_task(router.run())
    try:
        await wait_until_connected(router)
        # when: it sends a group message with integer ids, as the NapCat adapter does
        await router.send_message(MessageBase(
            message_info=BaseMessageInfo(
                platform="qq", message_id=1873451, time=time.time(),
                group_info=GroupInfo(platform="qq", group_id=123456789, group_name="test group"),
                user_info=UserInfo(platform="qq", user_id=987654321, user_nickname="Alice")),
            message_segment=Seg("seglist", [Seg("text", "@<Mai:10001> what do you think")]),
        ))
        deadline = time.monotonic() + 5
        while not (messages := await stored_messages(tenant_a, adapter.agent_slug)):
            assert time.monotonic() < deadline, "the message was not stored"
            await asyncio.sleep(0.05)
    finally:
        await stop_router(router, task)
    # then
    [message] = messages
    assert message.platform_message_id == "1873451"
    assert message.stream.group_id == "123456789"
    assert message.stream.group_name == "test group"
    assert message.sender.user_id == "987654321"
    assert message.sender.nickname == "Alice"
    assert message.text == "@<Mai:10001> what do you think"
    assert message.direction == "in"


async def test_a_resent_message_is_stored_once(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    ws = await connect_legacy(gateway.url, adapter.key)
    frame = json.dumps(message_frame(42, text="only once"))
    await ws.send(frame)
    await ws.send(frame)
    await barrier(ws)
    await ws.close()
    messages = await stored_messages(tenant_a, adapter.agent_slug)
    assert [(m.platform_message_id, m.text) for m in messages] == [("42", "only once")]


async def test_an_oversize_frame_gets_an_error_and_the_connection_stays_usable(gateway, tenant_a, make_adapter,
                                                                               settings):
    settings.CHAT_WS_MAX_FRAME_BYTES = 64 * 1024
    adapter = await make_adapter(tenant_a)
    ws = await connect_legacy(gateway.url, adapter.key)
    # when
    await ws.send(json.dumps(message_frame(1, text="x" * 70 * 1024)))
    error = await receive_json(ws)
    await ws.send(json.dumps(message_frame(2, text="small")))
    await barrier(ws)
    # then
    assert error["is_custom_message"] is True
    assert error["message_type_name"] == "error"
    assert error["content"]["code"] == "frame_too_large"
    assert "65536" in error["content"]["message"]
    assert [m.text for m in await stored_messages(tenant_a, adapter.agent_slug)] == ["small"]
    await ws.close()


async def test_invalid_json_gets_an_error_and_the_connection_stays_usable(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    ws = await connect_legacy(gateway.url, adapter.key)
    await ws.send('{"message_info": ')
    error = await receive_json(ws)
    await ws.send(json.dumps(message_frame(3, text="after the bad one")))
    await barrier(ws)
    assert error["content"]["code"] == "invalid_json"
    assert [m.text for m in await stored_messages(tenant_a, adapter.agent_slug)] == ["after the bad one"]
    await ws.close()


async def test_a_bad_frame_is_logged_with_tenant_and_agent(gateway, tenant_a, make_adapter):
    # given: a handler like the console's, which names tenant and agent on every line
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.addFilter(IsolationLogFilter())
    handler.emit = records.append
    gateway_logger = logging.getLogger("chat.consumers")
    gateway_logger.addHandler(handler)
    adapter = await make_adapter(tenant_a)
    try:
        ws = await connect_legacy(gateway.url, adapter.key)
        # when
        await barrier(ws)
        await ws.close()
    finally:
        gateway_logger.removeHandler(handler)
    # then
    [line] = [record for record in records if "invalid_json" in record.getMessage()]
    assert (line.tenant, line.agent, line.platform) == (tenant_a.schema_name, adapter.agent_slug, "qq")
    assert line.levelname == "WARNING"


async def test_an_invalid_message_gets_an_error_naming_the_field(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    ws = await connect_legacy(gateway.url, adapter.key)
    frame = message_frame(4)
    del frame["message_info"]["user_info"]
    await ws.send(json.dumps(frame))
    error = await receive_json(ws)
    assert error["content"] == {"code": "missing_field",
                                "message": "message_info.user_info is required (who sent the message)."}
    await ws.send(json.dumps(message_frame(5, text="fine")))
    await barrier(ws)
    assert [m.text for m in await stored_messages(tenant_a, adapter.agent_slug)] == ["fine"]
    await ws.close()


async def test_an_unknown_segment_is_kept_and_the_connection_stays_usable(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    ws = await connect_legacy(gateway.url, adapter.key)
    segments = [{"type": "text", "data": "look"}, {"type": "sparkle", "data": {"level": None}}]
    await ws.send(json.dumps(message_frame(6, segments=segments)))
    await ws.send(json.dumps(message_frame(7, text="next")))
    await barrier(ws)
    first, second = await stored_messages(tenant_a, adapter.agent_slug)
    assert first.segments["data"][1] == {"type": "sparkle", "data": {"level": None}}
    assert first.text == "look"
    assert second.text == "next"
    await ws.close()


async def test_a_stored_message_is_published_to_the_live_view(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(live_group(tenant_a.schema_name, adapter.agent_slug), channel)
    ws = await connect_legacy(gateway.url, adapter.key)
    await ws.send(json.dumps(message_frame(8, text="watch this")))
    event = await asyncio.wait_for(layer.receive(channel), timeout=5)
    assert event["type"] == "live.event"
    assert event["event"]["kind"] == "message_in"
    assert event["event"]["text"] == "watch this"
    assert event["event"]["user_id"] == "987654321"
    await ws.close()
    await layer.group_discard(live_group(tenant_a.schema_name, adapter.agent_slug), channel)


# --- one connection per (tenant, agent, platform) ------------------------------------------------


async def test_a_second_connection_replaces_the_first_with_1000(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    first = await connect_legacy(gateway.url, adapter.key)
    await barrier(first)  # the first is fully set up
    second = await connect_legacy(gateway.url, adapter.key)
    assert await close_code(first) == (1000, "Replaced by a newer connection.")
    await second.send(json.dumps(message_frame(9, text="still here")))
    await barrier(second)
    assert [m.text for m in await stored_messages(tenant_a, adapter.agent_slug)] == ["still here"]
    await second.close()


async def test_a_connection_on_another_server_replaces_the_first(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    first = await connect_legacy(gateway.first.url, adapter.key)
    await barrier(first)
    second = await connect_legacy(gateway.second.url, adapter.key)
    assert await close_code(first) == (1000, "Replaced by a newer connection.")
    await barrier(second)
    await second.close()


async def test_another_platform_of_the_same_agent_is_a_separate_connection(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    qq = await connect_legacy(gateway.url, adapter.key, platform="qq")
    await barrier(qq)
    discord = await connect_legacy(gateway.url, adapter.key, platform="discord")
    await barrier(discord)
    await barrier(qq)  # not replaced
    await qq.close()
    await discord.close()


def test_the_frame_bound_is_a_setting_of_a_few_megabytes():
    assert 1024 * 1024 <= settings.CHAT_WS_MAX_FRAME_BYTES <= 16 * 1024 * 1024
