"""The dashboard's playground: talk to an agent as a test user through the real pipeline."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from django.db import connection

from agents.models import Agent
from chat import delivery, pipeline
from chat.protocol import InboundMessage
from chat.services import receive_message

PLATFORM = "playground"


@dataclass
class PlaygroundResult:
    reply: str | None
    action: str
    reason: str
    stage: str
    memories: list[dict[str, Any]] = field(default_factory=list)
    stream_id: str = ""


def playground_turn(agent: Agent, text: str, *, user_id: str, user_name: str) -> PlaygroundResult:
    """Store `text` as a private message from the test user and answer it now.

    Runs the same heartflow, planner, replyer and sending policy as an adapter chat, on
    the `playground` platform; the reply comes back here instead of going to an adapter.
    """
    tenant = connection.tenant
    inbound = InboundMessage(
        platform=PLATFORM, message_id=f"pg-{uuid.uuid4().hex[:16]}", user_id=user_id, nickname=user_name,
        segment={"type": "seglist", "data": [{"type": "text", "data": text}]},
    )
    received = receive_message(agent, inbound)
    async_to_sync(delivery.publish_live_event)(tenant.schema_name, agent.slug, {
        "kind": "message_in", "platform": PLATFORM, "stream_id": received.stream.stream_id,
        "message_pk": received.message.pk, "user_id": user_id, "speaker": user_name, "text": text,
    })
    result = async_to_sync(pipeline.answer_now)(tenant, agent.slug, PLATFORM, received.stream.stream_id, received.message.pk)
    if result is None:
        return PlaygroundResult(None, "silent", "another turn already answered this message", "pipeline", stream_id=received.stream.stream_id)
    memories = [hit.as_dict() if hasattr(hit, "as_dict") else dict(hit) for hit in result.memories]
    return PlaygroundResult(result.reply, result.decision.action, result.decision.reason, result.stage, memories, received.stream.stream_id)
