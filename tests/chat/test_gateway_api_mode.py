"""The /ws gateway in maim_message's API-Server mode: envelopes, acks both ways, duplicates."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from maim_message.client import ClientConfig, WebSocketClient
from maim_message.message import APIMessageBase, BaseMessageInfo, MessageDim, Seg, SenderInfo, UserInfo
from maim_message.message import GroupInfo as ApiGroupInfo

from chat.delivery import send_to_adapter
from tests.chat.gateway_fixtures import close_code, connect_api, message_frame, receive_json
from tests.chat.test_gateway import stored_messages
from tests.chat.test_gateway_delivery import outbound_rows, stream_of, until

pytestmark = pytest.mark.django_db(transaction=True)


def sys_std(msg_id: str, *, message_id=2001, text="hello", group_id=123456789, user_id=987654321) -> dict:
    """An API-Server envelope: the sender sits in message_info.sender_info."""
    info = message_frame(message_id, text=text, group_id=group_id, user_id=user_id)
    base_info = info["message_info"]
    sender = {"user_info": base_info.pop("user_info")}
    if "group_info" in base_info:
        sender["group_info"] = base_info.pop("group_info")
    base_info["sender_info"] = sender
    return {
        "ver": 1, "msg_id": msg_id, "type": "sys_std",
        "meta": {"sender_user": "adapter", "platform": "qq", "timestamp": time.time()},
        "payload": {**info, "message_dim": {"api_key": "k", "platform": "qq"}},
    }


async def stop_api_client(client: WebSocketClient) -> None:
    """Stop the library's client, then wake the log thread it leaves blocked on an empty queue.

    maim_message 0.6.8 reads its log queue with a blocking `queue.get()` in a worker thread and
    never wakes it on stop, so the test's event loop could not shut its executor down.
    """
    log_processor = client.network_driver._log_processor
    await client.stop()
    if log_processor is not None:
        log_processor._queue.put_nowait(None)


async def ack_barrier(ws, msg_id: str = "barrier") -> None:
    """Every frame is acked at once and handled in order; a bad sys_std's error follows its ack."""
    await ws.send(json.dumps({"ver": 1, "msg_id": f"{msg_id}-{time.monotonic_ns()}", "type": "sys_std", "payload": 1}))
    assert (await receive_json(ws))["type"] == "sys_ack"
    assert (await receive_json(ws))["type"] == "custom_error"


async def test_a_wrong_key_is_refused_with_1008(gateway, tenant_a, make_adapter):
    await make_adapter(tenant_a)
    ws = await connect_api(gateway.url, "mmc_alpha_x_0000_v1")
    assert await close_code(ws) == (1008, "The API key is not valid.")


async def test_every_frame_is_acked_and_the_message_stored(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    ws = await connect_api(gateway.url, adapter.key, connection_uuid="conn-42")
    # when
    await ws.send(json.dumps(sys_std("msg_aaaaaaaaaaaa_1", text="over the api")))
    ack = await receive_json(ws)
    await ack_barrier(ws)
    # then
    assert ack["type"] == "sys_ack"
    assert ack["meta"]["acked_msg_id"] == "msg_aaaaaaaaaaaa_1"
    assert ack["meta"]["uuid"] == "conn-42"
    assert ack["payload"]["status"] == "received"
    [message] = await stored_messages(tenant_a, adapter.agent_slug)
    assert (message.text, message.platform_message_id) == ("over the api", "2001")
    assert message.sender.user_id == "987654321"
    assert message.stream.group_id == "123456789"
    await ws.close()


async def test_the_key_may_come_in_the_query_string(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    ws = await connect_api(gateway.url, adapter.key, in_query=True)
    await ws.send(json.dumps(sys_std("msg_query_1", text="via query")))
    assert (await receive_json(ws))["meta"]["acked_msg_id"] == "msg_query_1"
    await ack_barrier(ws)
    assert [m.text for m in await stored_messages(tenant_a, adapter.agent_slug)] == ["via query"]
    await ws.close()


async def test_a_duplicate_msg_id_is_acked_but_dropped(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    ws = await connect_api(gateway.url, adapter.key)
    # when: the same envelope twice, the second carrying another platform message id
    await ws.send(json.dumps(sys_std("msg_dup_1", message_id=1, text="first")))
    await ws.send(json.dumps(sys_std("msg_dup_1", message_id=2, text="duplicate")))
    acks = [await receive_json(ws), await receive_json(ws)]
    await ack_barrier(ws)
    # then
    assert [ack["meta"]["acked_msg_id"] for ack in acks] == ["msg_dup_1", "msg_dup_1"]
    assert [m.text for m in await stored_messages(tenant_a, adapter.agent_slug)] == ["first"]
    await ws.close()


async def test_a_bad_envelope_gets_a_custom_error_and_the_connection_stays_usable(gateway, tenant_a, make_adapter):
    adapter = await make_adapter(tenant_a)
    ws = await connect_api(gateway.url, adapter.key)
    await ws.send("{broken")
    error = await receive_json(ws)
    assert error["type"] == "custom_error"
    assert error["payload"]["code"] == "invalid_json"
    bad = sys_std("msg_bad_1")
    del bad["payload"]["message_info"]["sender_info"]
    await ws.send(json.dumps(bad))
    assert (await receive_json(ws))["type"] == "sys_ack"
    error = await receive_json(ws)
    assert error["payload"] == {"code": "missing_field", "msg_id": "msg_bad_1",
                                "message": "message_info.sender_info.user_info is required (who sent the message)."}
    await ws.send(json.dumps(sys_std("msg_good_1", text="good")))
    assert (await receive_json(ws))["type"] == "sys_ack"
    await ack_barrier(ws)
    assert [m.text for m in await stored_messages(tenant_a, adapter.agent_slug)] == ["good"]
    await ws.close()


async def test_a_reply_goes_out_as_sys_std_and_its_ack_marks_it_delivered(gateway, tenant_a, make_adapter):
    # given
    adapter = await make_adapter(tenant_a)
    ws = await connect_api(gateway.url, adapter.key)
    await ws.send(json.dumps(sys_std("msg_open_1")))
    await receive_json(ws)
    await ack_barrier(ws)
    stream_id = await stream_of(adapter)
    # when
    await send_to_adapter(tenant_a, adapter.agent_slug, "qq", stream_id, text="api reply", reply_to="2001")
    frame = await receive_json(ws)
    # then: an envelope with the target in receiver_info
    assert frame["type"] == "sys_std"
    payload = frame["payload"]
    assert payload["message_info"]["receiver_info"]["group_info"]["group_id"] == "123456789"
    assert payload["message_segment"]["data"][0] == {"type": "reply", "data": "2001"}
    assert payload["message_dim"]["platform"] == "qq"
    assert adapter.key not in json.dumps(frame)
    [row] = await outbound_rows(adapter)
    assert row.delivery == "sent"
    # when: the adapter acks it
    await ws.send(json.dumps({"ver": 1, "msg_id": "ack-1", "type": "sys_ack",
                              "meta": {"uuid": "conn-1", "acked_msg_id": frame["msg_id"], "timestamp": time.time()},
                              "payload": {"status": "received"}}))
    await ack_barrier(ws)
    [row] = await outbound_rows(adapter)
    assert row.delivery == "delivered"
    await ws.close()


async def test_the_real_api_client_sends_gets_replies_and_acks_them(gateway, tenant_a, make_adapter):
    # given: maim_message's own API-Server mode client
    adapter = await make_adapter(tenant_a)
    received: list[APIMessageBase] = []
    got_reply = asyncio.Event()

    async def on_message(message: APIMessageBase, meta: dict) -> None:
        received.append(message)
        got_reply.set()

    client = WebSocketClient(ClientConfig(url=gateway.url, api_key=adapter.key, platform="qq", on_message=on_message,
                                          enable_message_cache=False, max_reconnect_attempts=1))
    await client.start()
    try:
        assert await client.connect()
        # when: it sends a message
        sent = await client.send_message(APIMessageBase(
            message_info=BaseMessageInfo(
                platform="qq", message_id="3001", time=time.time(),
                sender_info=SenderInfo(group_info=ApiGroupInfo(platform="qq", group_id="424242"),
                                       user_info=UserInfo(platform="qq", user_id="77", user_nickname="Bob"))),
            message_segment=Seg("seglist", [Seg("text", "from the api client")]),
            message_dim=MessageDim(api_key=adapter.key, platform="qq"),
        ))
        assert sent

        async def stored():
            return await stored_messages(tenant_a, adapter.agent_slug)

        [message] = await until(stored)
        assert (message.text, message.stream.group_id, message.sender.nickname) == ("from the api client", "424242",
                                                                                     "Bob")
        # and the agent replies
        await send_to_adapter(tenant_a, adapter.agent_slug, "qq", message.stream.stream_id, text="hello Bob")
        await asyncio.wait_for(got_reply.wait(), timeout=10)

        async def delivered():
            rows = await outbound_rows(adapter)
            return rows if rows and rows[0].delivery == "delivered" else None

        # then: the client parsed our envelope and acked it
        await until(delivered)
    finally:
        await stop_api_client(client)
    [reply] = received
    assert reply.message_segment.data[0].data == "hello Bob"
    assert reply.message_info.receiver_info.group_info.group_id == "424242"
