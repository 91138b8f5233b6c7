"""Chat data in each tenant's schema."""
from __future__ import annotations

import hashlib
from decimal import Decimal

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


# --- LLM usage, quota alerts and pipeline turns (owner: the pipeline) ------------------------


class UsageRecord(models.Model):
    """One LLM call (or one refused by quota): what it cost and how it went.

    Written by `chat.llm`; read by quotas (to rebuild counters), statistics and the
    dashboard. `stream_id` is the chat stream's hash id, kept as text so records survive
    a stream's deletion.
    """

    class Status(models.TextChoices):
        OK = "ok", "OK"
        ERROR = "error", "Error"
        QUOTA_EXCEEDED = "quota_exceeded", "Quota exceeded"

    # No database constraint: a call finishing while its agent is deleted must not make
    # the deletion fail; Django still nulls the link for rows it sees.
    agent = models.ForeignKey(
        "agents.Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False
    )
    platform = models.CharField(max_length=32, blank=True)
    stream_id = models.CharField(max_length=64, blank=True)
    task = models.CharField(max_length=32)
    model_name = models.CharField(max_length=100, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    latency_ms = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OK)
    error = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["agent", "created"], name="usage_agent_created"),
            models.Index(fields=["model_name", "created"], name="usage_model_created"),
            models.Index(fields=["status", "created"], name="usage_status_created"),
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.model_name} {self.status}"

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out


class UsageAlert(models.Model):
    """A plan limit crossed a threshold; at most one row per (metric, level, period)."""

    class Level(models.TextChoices):
        WARNING = "warning", "Warning (80%)"
        CRITICAL = "critical", "Critical (95%)"
        EXCEEDED = "exceeded", "Exceeded"

    metric = models.CharField(max_length=20)  # daily_tokens / monthly_cost / daily_requests
    level = models.CharField(max_length=20, choices=Level.choices)
    period = models.CharField(max_length=10)  # "2025-11-25" for daily limits, "2025-11" for monthly
    used = models.DecimalField(max_digits=20, decimal_places=6)
    limit = models.DecimalField(max_digits=20, decimal_places=6)
    agent_slug = models.CharField(max_length=40, blank=True)  # the call that crossed it
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(fields=["metric", "level", "period"], name="one_alert_per_metric_level_period")
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.level} {self.period}"


class Turn(models.Model):
    """One pass of the pipeline over a stream's new messages: what it decided and why.

    `stage` names where the decision was made (heartflow, policy, planner, quota, llm);
    `action` is what the agent did. Message ids are kept as plain numbers so the record
    stays readable after messages are pruned.
    """

    class Action(models.TextChoices):
        REPLY = "reply", "Reply"
        SILENT = "silent", "Stay silent"

    # No database constraint, as for UsageRecord: a turn ending while its agent is deleted
    # must not make the deletion fail.
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    platform = models.CharField(max_length=32)
    stream_id = models.CharField(max_length=64)
    first_message_pk = models.BigIntegerField()
    last_message_pk = models.BigIntegerField()
    message_count = models.PositiveIntegerField(default=1)
    stage = models.CharField(max_length=20)
    action = models.CharField(max_length=20, choices=Action.choices)
    reason = models.CharField(max_length=300)
    source = models.CharField(max_length=20, blank=True)  # rule / model / fallback
    reply_pks = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["stream_id", "created"], name="turn_stream_created")]

    def __str__(self) -> str:
        return f"{self.stream_id[:8]} {self.action}: {self.reason}"
