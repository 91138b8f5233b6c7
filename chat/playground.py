"""Turns answered in the caller's response: the HTTP chat API and the dashboard playground.

Both store the incoming text as an inbound message (through the gateway's
`receive_message`, so streams, people and idempotency work as for adapters), run the
same pipeline turn as an adapter message, and return the decision and the reply instead
of sending it to an adapter. The replies are stored as outbound messages marked `local`.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import connection
from django_tenants.utils import tenant_context

from chat import delivery, pipeline, services
from chat.models import Message, Turn
from chat.protocol import InboundMessage

if TYPE_CHECKING:
    from agents.models import Agent
    from tenants.models import Tenant

PLAYGROUND_PLATFORM = "playground"


@dataclass(frozen=True)
class ChatTurn:
    """What the agent made of one message sent over HTTP."""

    stream_id: str
    message_pk: int
    message_id: str  # the inbound message's platform id (given or generated)
    action: str  # reply / silent
    reason: str
    source: str  # rule / model / fallback
    stage: str  # heartflow / policy / planner / quota / llm
    replies: list[str] = field(default_factory=list)
    reply_pks: list[int] = field(default_factory=list)
    memories: list[Any] = field(default_factory=list)
    repeated: bool = False  # the message id was seen before; this is the earlier answer

    @property
    def reply(self) -> str | None:
        return "\n".join(self.replies) if self.replies else None


@dataclass(frozen=True)
class PlaygroundResult:
    reply: str | None
    decision: str
    reason: str
    memories: list[Any]
    turn: ChatTurn


def store_http_message(
    agent: Agent, *, platform: str, user_id: str, nickname: str, text: str, group_id: str = "",
    group_name: str = "", cardname: str = "", message_id: str = "",
) -> services.Received:
    """Store a message sent over HTTP (sync, inside the tenant's schema)."""
    inbound = InboundMessage(
        platform=platform, message_id=message_id or f"http_{uuid.uuid4().hex[:20]}", user_id=user_id,
        segment={"type": "seglist", "data": [{"type": "text", "data": text}]}, time=time.time(),
        group_id=group_id, group_name=group_name, nickname=nickname, cardname=cardname,
    )
    return services.receive_message(agent, inbound)


def earlier_answer(received: services.Received) -> ChatTurn:
    """The recorded outcome for a message that was already handled (sync, in the schema)."""
    message = received.message
    turn = (
        Turn.objects.filter(stream_id=received.stream.stream_id, first_message_pk__lte=message.pk,
                            last_message_pk__gte=message.pk)
        .order_by("-pk")
        .first()
    )
    if turn is None:
        return ChatTurn(received.stream.stream_id, message.pk, message.platform_message_id, "silent",
                        "this message is still being handled", "rule", "pending", repeated=True)
    replies = dict(Message.objects.filter(pk__in=turn.reply_pks).values_list("pk", "text"))
    return ChatTurn(
        received.stream.stream_id, message.pk, message.platform_message_id, turn.action, turn.reason, turn.source,
        turn.stage, [replies[pk] for pk in turn.reply_pks if pk in replies], list(turn.reply_pks), repeated=True,
    )


async def answer_http_message(
    tenant: Tenant, agent: Agent, received: services.Received, *, on_delta: Callable[[str], None] | None = None
) -> ChatTurn:
    """Run the turn for a freshly stored HTTP message and wait for its outcome.

    Raises TimeoutError when the chat stays busy with another turn.
    """
    stream, message = received.stream, received.message
    await delivery.publish_live_event(tenant.schema_name, agent.slug, {
        "kind": "message_in", "platform": stream.platform, "stream_id": stream.stream_id, "message_pk": message.pk,
        "group_id": stream.group_id, "user_id": message.sender.user_id if message.sender else "",
        "speaker": message.sender.display_name if message.sender else "", "text": message.text,
    })
    result = await pipeline.answer_now(tenant, agent.slug, stream.platform, stream.stream_id, message.pk,
                                       on_delta=on_delta)
    if result is None:
        # Another turn read this message first (an adapter's burst in the same chat).
        return await _earlier_answer_async(tenant, received)
    return ChatTurn(
        stream.stream_id, message.pk, message.platform_message_id, result.decision.action, result.decision.reason,
        result.decision.source, result.stage, result.replies, result.reply_pks, result.memories,
    )


@database_sync_to_async
def _earlier_answer_async(tenant: Tenant, received: services.Received) -> ChatTurn:
    with tenant_context(tenant):
        return earlier_answer(received)


def playground_turn(agent: Agent, text: str, user_name: str) -> PlaygroundResult:
    """Talk to `agent` as `user_name` in a private chat on the "playground" platform.

    Sync, for dashboard views; must be called inside the tenant's schema. The turn is
    the real pipeline (config, planner, replyer, memories, quotas, sending policy).
    """
    tenant = connection.tenant
    user_name = (user_name or "guest").strip()[:200] or "guest"
    received = store_http_message(agent, platform=PLAYGROUND_PLATFORM, user_id=user_name, nickname=user_name,
                                  text=text)
    turn = async_to_sync(answer_http_message)(tenant, agent, received)
    return PlaygroundResult(turn.reply, turn.action, turn.reason, turn.memories, turn)
