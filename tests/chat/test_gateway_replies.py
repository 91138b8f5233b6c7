"""End to end through the gateway: the real maim-message 0.6.8 Router client talks to the
running ASGI app, the pipeline answers with models served by the local OpenAI server."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import tenant_context
from maim_message import BaseMessageInfo, GroupInfo, MessageBase, RouteConfig, Router, Seg, TargetConfig, UserInfo

from agents.audit import SYSTEM
from agents.config import set_config_values
from agents.models import Agent, LLMModel, LLMProvider, TaskModelList
from chat.models import Message, Turn, UsageAlert, UsageRecord
from tests.chat.conftest import use_models
from tests.chat.gateway_fixtures import RECEIVE_TIMEOUT
from tests.chat.test_gateway import stop_router, wait_until_connected
from tests.chat.test_gateway_delivery import until
from tests.fakes.openai_server import FakeOpenAI, Reply

pytestmark = pytest.mark.django_db(transaction=True)

MODELS = {"replyer": "gw-talker", "planner": "gw-thinker"}


@pytest.fixture
def local_models(transactional_db, tenant_a, openai_server: FakeOpenAI, clean_counters) -> Iterator[FakeOpenAI]:
    """Tenant A's replyer and planner lists point at the local server.

    Afterwards the models, their usage rows and (through clean_counters) the quota counters
    are gone again: these tests commit, and later tests count tenant A's usage from zero.
    """
    with tenant_context(tenant_a):
        for task, name in MODELS.items():
            use_models(openai_server, task, [name])
    yield openai_server
    with tenant_context(tenant_a):
        UsageRecord.objects.filter(model_name__in=list(MODELS.values())).delete()
        UsageAlert.objects.all().delete()
        TaskModelList.objects.filter(task__in=list(MODELS)).delete()
        LLMModel.objects.filter(name__in=list(MODELS.values())).delete()
        LLMProvider.objects.filter(name__in=[f"local-{task}" for task in MODELS]).delete()


@sync_to_async
def configure(adapter, **values) -> None:
    with tenant_context(adapter.tenant):
        agent = Agent.objects.get(slug=adapter.agent_slug)
        set_config_values("agent", values, agent=agent, actor=SYSTEM)


@sync_to_async
def turns_of(adapter) -> list[Turn]:
    with tenant_context(adapter.tenant):
        return list(Turn.objects.filter(agent__slug=adapter.agent_slug).order_by("pk"))


@sync_to_async
def outbound_of(adapter) -> list[Message]:
    with tenant_context(adapter.tenant):
        return list(Message.objects.filter(stream__agent__slug=adapter.agent_slug, direction="out").order_by("pk"))


class RouterAdapter:
    """The real Router client, collecting what the core sends it."""

    def __init__(self, url: str, key: str) -> None:
        self.router = Router(RouteConfig(route_config={"qq": TargetConfig(url=url, token=key)}))
        self.received: list[dict] = []
        self.arrived = asyncio.Event()
        self.router.register_class_handler(self._on_message)

    async def _on_message(self, message: dict) -> None:
        self.received.append(message)
        self.arrived.set()

    async def __aenter__(self) -> RouterAdapter:
        self.task = asyncio.create_task(self.router.run())
        await wait_until_connected(self.router)
        return self

    async def __aexit__(self, *_: object) -> None:
        await stop_router(self.router, self.task)

    async def say(self, text: str, *, message_id: int, group_id: int | None = 123456789, user_id: int = 987654321):
        await self.router.send_message(MessageBase(
            message_info=BaseMessageInfo(
                platform="qq", message_id=message_id, time=time.time(),
                group_info=GroupInfo(platform="qq", group_id=group_id, group_name="Book club") if group_id else None,
                user_info=UserInfo(platform="qq", user_id=user_id, user_nickname="Alice")),
            message_segment=Seg("seglist", [Seg("text", text)]),
        ))

    async def next_reply(self) -> dict:
        await asyncio.wait_for(self.arrived.wait(), timeout=RECEIVE_TIMEOUT * 2)
        self.arrived.clear()
        return self.received.pop(0)


async def test_a_mention_in_a_group_gets_a_reply_quoting_it(gateway, tenant_a, make_adapter, local_models):
    # given
    local_models.reply_for_model("gw-talker-id", Reply("Happy to help, Alice!"))
    adapter = await make_adapter(tenant_a)
    await configure(adapter, memory_enabled=False)
    async with RouterAdapter(gateway.url, adapter.key) as bot:
        # when: the NapCat adapter's flattened form of an @-mention of account 10001
        await bot.say("@<Mai:10001> what do you think?", message_id=1873451)
        reply = await bot.next_reply()
    # then: a group message quoting the mention
    assert reply["message_info"]["group_info"]["group_id"] == "123456789"
    segments = reply["message_segment"]["data"]
    assert segments[0] == {"type": "reply", "data": "1873451"}
    assert segments[1] == {"type": "text", "data": "Happy to help, Alice!"}
    [row] = await outbound_of(adapter)
    assert (row.text, row.reply_to_id, row.delivery) == ("Happy to help, Alice!", "1873451", "sent")


async def test_a_plain_message_with_talk_frequency_zero_gets_no_reply(gateway, tenant_a, make_adapter, local_models):
    # given
    adapter = await make_adapter(tenant_a)
    await configure(adapter, talk_frequency=0, memory_enabled=False)
    async with RouterAdapter(gateway.url, adapter.key) as bot:
        # when
        await bot.say("nice weather today", message_id=501)
        [turn] = await until(lambda: turns_of(adapter), timeout=RECEIVE_TIMEOUT * 2)
    # then: the turn was decided silent, nothing was sent, no model was asked
    assert (turn.action, turn.stage) == ("silent", "heartflow")
    assert bot.received == []
    assert await outbound_of(adapter) == []
    assert local_models.requests == []


async def test_a_private_message_gets_a_reply(gateway, tenant_a, make_adapter, local_models):
    local_models.reply_for_model("gw-talker-id", Reply("Hi there."))
    adapter = await make_adapter(tenant_a)
    await configure(adapter, memory_enabled=False)
    async with RouterAdapter(gateway.url, adapter.key) as bot:
        await bot.say("hello?", message_id=601, group_id=None, user_id=24680)
        reply = await bot.next_reply()
    assert "group_info" not in reply["message_info"]
    assert reply["message_info"]["user_info"]["user_id"] == "24680"
    assert reply["message_segment"]["data"][-1] == {"type": "text", "data": "Hi there."}


async def test_the_router_client_with_a_wrong_key_is_closed_with_1008(gateway, tenant_a, make_adapter):
    await make_adapter(tenant_a)
    router = Router(RouteConfig(route_config={"qq": TargetConfig(url=gateway.url, token="mmc_alpha_wrong_v1")}))
    task = asyncio.create_task(router.run())
    try:
        # The library keeps retrying; its last socket tells how the server closed it.
        def closed_socket():
            client = router.clients.get("qq")
            socket = getattr(getattr(client, "connection", None), "ws", None)
            return socket if socket is not None and socket.closed else None

        async def poll():
            return closed_socket()

        socket = await until(poll, timeout=RECEIVE_TIMEOUT * 2)
        assert socket.close_code == 1008
        assert not router.check_connection("qq")
    finally:
        await stop_router(router, task)
