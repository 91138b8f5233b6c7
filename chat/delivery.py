"""Outbound messages: stored first, then sent to the adapter's connection group.

An outbound message is written to the database as `pending` and announced on the
channel-layer group of its (tenant, agent, platform). Whichever ASGI process holds that
adapter's socket claims it (`pending` → `sent`) and writes the frame; the adapter's
`message_id_echo` (legacy) or `sys_ack` (API-Server mode) marks it `delivered` with the
platform's own id. With no adapter connected the message stays `pending`, and the next
connection replays every pending message of its agent and platform in order.

Functions marked sync run inside the tenant's schema; the async ones wrap their database
work in one `database_sync_to_async` call each, inside `tenant_context`.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import ChatStream, Message
from chat.protocol import Outbound, flatten_text

if TYPE_CHECKING:
    from tenants.models import Tenant

logger = logging.getLogger(__name__)


def database_call(func):
    """`database_sync_to_async` on the worker-thread pool instead of the one shared thread.

    Channels runs every thread-sensitive database call of a process in a single thread, so
    one slow query (or a busy database) holds up every socket of the process. Each of our
    calls sets its schema itself (`tenant_context`) and leaves no state on the connection,
    so they may run side by side on pooled connections.
    """
    return database_sync_to_async(func, thread_sensitive=False)


def connection_group(schema_name: str, agent_slug: str, platform: str) -> str:
    """The channel-layer group of one adapter connection (valid group-name characters, < 100)."""
    digest = hashlib.sha256(f"{schema_name}|{agent_slug}|{platform}".encode()).hexdigest()[:40]
    return f"chat.adapter.{digest}"


def live_group(schema_name: str, agent_slug: str) -> str:
    return f"live.{schema_name}.{agent_slug}"


def new_outbound_id() -> str:
    """Our id for an outbound message; the adapter echoes it back once delivered."""
    return f"mmc_{uuid.uuid4().hex[:20]}"


def text_segments(text: str, *, reply_to: str = "") -> dict[str, Any]:
    segments: list[dict[str, Any]] = []
    if reply_to:
        segments.append({"type": "reply", "data": reply_to})
    segments.append({"type": "text", "data": text})
    return {"type": "seglist", "data": segments}


def _quoted_id(segments: dict[str, Any]) -> str:
    if segments.get("type") == "seglist" and segments.get("data"):
        first = segments["data"][0]
        if isinstance(first, dict) and first.get("type") == "reply":
            return str(first.get("data") or "")
    return ""


def create_outbound(
    agent_slug: str, platform: str, stream_id: str, *, text: str, segments: dict[str, Any] | None = None,
    reply_to: str = "", delivery: str = Message.Delivery.PENDING,
) -> Message:
    """Store one message of the agent in a stream (sync, inside the tenant's schema).

    `segments` defaults to the text (quoting `reply_to` first when given). Raises
    ChatStream.DoesNotExist when the stream is not this agent's on this platform.
    """
    stream = ChatStream.objects.select_related("agent").get(
        stream_id=stream_id, agent__slug=agent_slug, platform=platform
    )
    if segments is None:
        segments = text_segments(text, reply_to=reply_to)
    now = timezone.now()
    message = Message.objects.create(
        stream=stream,
        platform_message_id=new_outbound_id(),
        direction=Message.Direction.OUT,
        text=text or flatten_text(segments),
        segments=segments,
        reply_to_id=reply_to or _quoted_id(segments),
        time=now,
        delivery=delivery,
    )
    ChatStream.objects.filter(pk=stream.pk).update(last_message_at=now)
    return message


async def send_to_adapter(
    tenant: Tenant, agent_slug: str, platform: str, stream_id: str, *, text: str,
    segments: dict[str, Any] | None = None, reply_to: str = "",
) -> int:
    """Store a reply for the adapter and hand it to the connection; returns the message pk.

    Never waits for the adapter: an offline adapter gets it when it reconnects.
    """

    @database_call
    def store() -> tuple[int, Outbound]:
        with tenant_context(tenant):
            message = create_outbound(agent_slug, platform, stream_id, text=text, segments=segments,
                                      reply_to=reply_to)
            return message.pk, _outbound_of(message)

    message_pk, outbound = await store()
    await deliver(tenant, agent_slug, platform, message_pk, outbound=outbound)
    return message_pk


async def store_outbound(
    tenant: Tenant, agent_slug: str, platform: str, stream_id: str, *, text: str,
    segments: dict[str, Any] | None = None, reply_to: str = "",
) -> int:
    """Store a reply that is answered in an HTTP response (chat API, playground), not sent."""

    @database_call
    def store() -> int:
        with tenant_context(tenant):
            return create_outbound(agent_slug, platform, stream_id, text=text, segments=segments,
                                   reply_to=reply_to, delivery=Message.Delivery.LOCAL).pk

    return await store()


async def deliver(tenant: Tenant, agent_slug: str, platform: str, message_pk: int, *,
                  outbound: Outbound | None = None) -> None:
    """Announce a stored pending message to its adapter's connection group (any process).

    With `outbound` (the frame's content) the connection need not read the message back.
    """
    event: dict[str, Any] = {"type": "chat.outbound", "message_pk": message_pk}
    if outbound is not None:
        event["outbound"] = asdict(outbound)
    await get_channel_layer().group_send(connection_group(tenant.schema_name, agent_slug, platform), event)


async def publish_live_event(schema_name: str, agent_slug: str, event: dict[str, Any]) -> None:
    """Tell the dashboard's live view; best effort, a slow channel layer never blocks chat."""
    layer = get_channel_layer()
    try:
        await asyncio.wait_for(
            layer.group_send(live_group(schema_name, agent_slug), {"type": "live.event", "event": event}),
            timeout=settings.CHAT_LIVE_EVENT_TIMEOUT,
        )
    except Exception:  # noqa: BLE001 - the live view must not fail a message
        logger.warning("live event %s not published", event.get("kind"), exc_info=True)


# --- the connection's side (sync, inside the tenant's schema) ------------------------------------


def _outbound_of(message: Message) -> Outbound:
    stream = message.stream
    agent = stream.agent
    return Outbound(
        message_id=message.platform_message_id,
        platform=stream.platform,
        time=message.time.timestamp(),
        segment=message.segments or text_segments(message.text),
        group_id=stream.group_id,
        group_name=stream.group_name,
        user_id=stream.private_user_id,
        bot_user_id=str((agent.platform_accounts or {}).get(stream.platform) or ""),
        bot_name=agent.name,
    )


def _outbound_of_adapter(agent_slug: str, platform: str):
    return Message.objects.filter(
        direction=Message.Direction.OUT, stream__agent__slug=agent_slug, stream__platform=platform
    )


def claim(agent_slug: str, platform: str, message_pk: int) -> bool:
    """Take a pending message of this adapter for writing (pending → sent); False if taken or not ours.

    The conditional update makes sure a message announced live and also found by a replay
    is written once.
    """
    return bool(
        _outbound_of_adapter(agent_slug, platform)
        .filter(pk=message_pk, delivery=Message.Delivery.PENDING)
        .update(delivery=Message.Delivery.SENT, attempts=F("attempts") + 1, sent_at=timezone.now())
    )


def claim_for_sending(agent_slug: str, platform: str, message_pk: int) -> Outbound | None:
    """`claim`, then the message as the frame needs it; None if it was not ours to send."""
    if not claim(agent_slug, platform, message_pk):
        return None
    return _outbound_of(Message.objects.select_related("stream__agent").get(pk=message_pk))


def unclaim(message_pk: int) -> None:
    """The frame could not be written: the message waits for the next connection."""
    Message.objects.filter(pk=message_pk, delivery=Message.Delivery.SENT).update(delivery=Message.Delivery.PENDING)


def pending_for_adapter(agent_slug: str, platform: str) -> list[int]:
    """Pending messages to replay to a new connection, oldest first, bounded in number and age."""
    oldest = timezone.now() - timedelta(seconds=settings.CHAT_REPLAY_MAX_AGE_SECONDS)
    return list(
        _outbound_of_adapter(agent_slug, platform)
        .filter(delivery=Message.Delivery.PENDING, created__gte=oldest)
        .order_by("pk")
        .values_list("pk", flat=True)[: settings.CHAT_REPLAY_MAX_MESSAGES]
    )


def record_delivery(agent_slug: str, platform: str, our_id: str, *, actual_id: str = "") -> bool:
    """The adapter confirmed our message `our_id` (echo or ack); keep the platform's id if given."""
    changes: dict[str, Any] = {"delivery": Message.Delivery.DELIVERED, "delivered_at": timezone.now()}
    if actual_id:
        changes["platform_actual_id"] = actual_id
    return bool(
        _outbound_of_adapter(agent_slug, platform)
        .filter(platform_message_id=our_id)
        .exclude(delivery=Message.Delivery.LOCAL)
        .update(**changes)
    )
