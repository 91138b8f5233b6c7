"""State changes of chat data: receiving messages (delivery lives in chat.delivery).

Every function here is synchronous and must run inside the tenant's schema
(`tenant_context`); async callers wrap the whole call in one `database_sync_to_async`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chat import media
from chat.models import ChatStream, Message, Person, stream_id_for
from chat.protocol import InboundMessage, flatten_text

if TYPE_CHECKING:
    from agents.models import Agent
    from tenants.models import Tenant


@dataclass(frozen=True)
class Received:
    message: Message
    stream: ChatStream
    created: bool  # False when the platform message was already stored (a re-send)


def _current_tenant(tenant: Tenant | None) -> Tenant:
    # Inside tenant_context (same thread, same call) the connection's tenant is the one we want.
    tenant = tenant or getattr(connection, "tenant", None)
    if tenant is None or tenant.schema_name == "public":
        raise RuntimeError("receive_message must run inside the tenant's schema (tenant_context).")
    return tenant


def get_or_create_stream(tenant: Tenant, agent: Agent, platform: str, *, group_id: str = "",
                         group_name: str = "", user_id: str = "") -> ChatStream:
    """The agent's stream for one group (or one private chat) on a platform."""
    stream_id = stream_id_for(tenant.schema_name, agent.slug, platform, group_id=group_id or None,
                              user_id=None if group_id else user_id)
    stream, _ = ChatStream.objects.get_or_create(
        stream_id=stream_id,
        defaults={
            "agent": agent,
            "platform": platform,
            "group_id": group_id,
            "group_name": group_name,
            "private_user_id": "" if group_id else user_id,
        },
    )
    return stream


def _upsert_person(agent: Agent, inbound: InboundMessage, seen: dt.datetime) -> Person:
    """One INSERT … ON CONFLICT DO UPDATE: the sender row, created or refreshed.

    Names are only overwritten by names actually sent: a private message carries no card name.
    """
    refreshed = ["last_seen"]
    if inbound.nickname:
        refreshed.append("nickname")
    if inbound.group_id:
        refreshed.append("cardname")
    person = Person(agent=agent, platform=inbound.platform, user_id=inbound.user_id, nickname=inbound.nickname,
                    cardname=inbound.cardname if inbound.group_id else "", last_seen=seen)
    Person.objects.bulk_create([person], update_conflicts=True, unique_fields=["agent", "platform", "user_id"],
                               update_fields=refreshed)
    return person


def receive_message(agent: Agent, inbound: InboundMessage, *, tenant: Tenant | None = None) -> Received:
    """Store an inbound platform message once: stream, sender, media files, message row.

    Idempotent on (stream, platform message id): a re-sent message returns the stored row
    with `created=False` and changes nothing (its transaction is rolled back whole).
    """
    tenant = _current_tenant(tenant)
    now = timezone.now()
    said_at = dt.datetime.fromtimestamp(inbound.time, tz=dt.UTC) if inbound.time else now
    try:
        # Few round trips on purpose: this runs for every message of every adapter.
        with transaction.atomic():
            stream = get_or_create_stream(tenant, agent, inbound.platform, group_id=inbound.group_id,
                                          group_name=inbound.group_name, user_id=inbound.user_id)
            sender = _upsert_person(agent, inbound, now)
            segments = media.replace_inline_media(tenant.schema_name, agent.slug, inbound.segment)
            message = Message.objects.create(
                stream=stream,
                platform_message_id=inbound.message_id,
                direction=Message.Direction.IN,
                sender=sender,
                text=flatten_text(inbound.segment),
                segments=segments,
                reply_to_id=inbound.reply_to_id,
                extra=inbound.extra,
                time=said_at,
            )
            updates: dict[str, object] = {"last_message_at": now}
            if inbound.group_name and inbound.group_name != stream.group_name:
                updates["group_name"] = inbound.group_name
            ChatStream.objects.filter(pk=stream.pk).update(**updates)
            for name, value in updates.items():
                setattr(stream, name, value)
    except IntegrityError:
        if not inbound.message_id:
            raise
        # Stored before (a re-send, or the same message on another connection at once).
        existing = Message.objects.select_related("stream").get(
            stream__stream_id=stream_id_for(tenant.schema_name, agent.slug, inbound.platform,
                                            group_id=inbound.group_id or None,
                                            user_id=None if inbound.group_id else inbound.user_id),
            platform_message_id=inbound.message_id,
            direction=Message.Direction.IN,
        )
        return Received(existing, existing.stream, False)
    return Received(message, stream, True)


def playground_turn(agent: Agent, text: str, user_name: str):
    """The dashboard playground's turn: see `chat.playground.playground_turn` (pipeline's side)."""
    from chat.playground import playground_turn as run

    return run(agent, text, user_name)
