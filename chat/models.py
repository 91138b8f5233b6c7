"""Chat data in each tenant's schema."""
from __future__ import annotations

import hashlib

from django.db import models
from django.db.models import Q

# --- conversations: streams, messages, people (owner: the gateway) ------------------------------


def stream_id_for(
    tenant_schema: str, agent_slug: str, platform: str, *, group_id: str | None = None, user_id: str | None = None
) -> str:
    """The stable id of one chat: sha256 of tenant | agent | platform | group or private user.

    A group chat is keyed by its group id alone, a private chat by "private:" + the user id,
    so the same ids on another tenant, agent or platform always give another stream.
    """
    if group_id:
        chat = str(group_id)
    elif user_id:
        chat = f"private:{user_id}"
    else:
        raise ValueError("A chat needs a group id or a private user id.")
    return hashlib.sha256("|".join([tenant_schema, agent_slug, platform, chat]).encode()).hexdigest()


class ChatStream(models.Model):
    """One group chat or one private chat of an agent on a platform."""

    stream_id = models.CharField(max_length=64, unique=True)
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="streams")
    platform = models.CharField(max_length=32)
    group_id = models.CharField(max_length=128, blank=True)  # empty for private chats
    group_name = models.CharField(max_length=200, blank=True)
    private_user_id = models.CharField(max_length=128, blank=True)  # empty for group chats
    created = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at"]
        indexes = [models.Index(fields=["agent", "platform", "-last_message_at"], name="stream_agent_recent")]

    def __str__(self) -> str:
        chat = self.group_id or f"private:{self.private_user_id}"
        return f"{self.platform}:{chat}"

    @property
    def is_private(self) -> bool:
        return not self.group_id


class Person(models.Model):
    """Someone an agent has met on a platform; upserted from every message they send."""

    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="people")
    platform = models.CharField(max_length=32)
    user_id = models.CharField(max_length=128)
    nickname = models.CharField(max_length=200, blank=True)
    cardname = models.CharField(max_length=200, blank=True)  # group card name, when last seen in a group
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "platform", "user_id"], name="one_person_per_platform_user")
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.user_id} ({self.cardname or self.nickname})"

    @property
    def display_name(self) -> str:
        return self.cardname or self.nickname or self.user_id


class Message(models.Model):
    """One message of a stream, inbound (from the platform) or outbound (the agent's).

    Inbound messages are idempotent on the platform's message id. Outbound messages get our
    own id (`platform_message_id`, what the adapter echoes back) and, once the adapter has
    delivered them, the platform's real id (`platform_actual_id`). `text` is the flattened
    text the LLM reads; `segments` is the maim_message segment tree with media replaced by
    references to stored files (see chat.media).
    """

    class Direction(models.TextChoices):
        IN = "in", "Inbound"
        OUT = "out", "Outbound"

    class Delivery(models.TextChoices):
        NONE = "", "Not applicable"  # inbound messages
        PENDING = "pending", "Waiting for the adapter"
        SENT = "sent", "Written to the adapter's socket"
        DELIVERED = "delivered", "Acknowledged by the adapter"
        LOCAL = "local", "Answered in an HTTP response, not sent to an adapter"

    stream = models.ForeignKey(ChatStream, on_delete=models.CASCADE, related_name="messages")
    platform_message_id = models.CharField(max_length=128, blank=True)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    sender = models.ForeignKey(Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages")
    text = models.TextField(blank=True)
    segments = models.JSONField(default=dict, blank=True)
    reply_to_id = models.CharField(max_length=128, blank=True)  # platform id of the quoted message
    extra = models.JSONField(default=dict, blank=True)  # format_info, additional_config … as received
    time = models.DateTimeField()  # when it was said (the platform's time for inbound)
    created = models.DateTimeField(auto_now_add=True)
    # Outbound delivery; the pk orders replays, so replies reach the adapter in the order written.
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.NONE, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    platform_actual_id = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["stream", "platform_message_id", "direction"],
                condition=~Q(platform_message_id=""),
                name="one_message_per_platform_id",
            )
        ]
        indexes = [
            models.Index(fields=["stream", "-time"], name="message_stream_time"),
            # Replays scan only what is still waiting for an adapter.
            models.Index(fields=["stream", "id"], condition=Q(delivery="pending"), name="message_pending_outbound"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.platform_message_id}: {self.text[:40]}"

    @property
    def is_outbound(self) -> bool:
        return self.direction == self.Direction.OUT
