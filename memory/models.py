"""Long-term memory of a tenant's agents, in the tenant's schema."""
from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from pgvector.django import HnswIndex, VectorField

EMBEDDING_DIMENSIONS = 384  # all-MiniLM-L6-v2


class Memory(models.Model):
    """Something an agent remembers, at the level it applies to.

    `agent` level applies everywhere the agent speaks; `platform` level to one platform;
    `chat` level to one chat stream.
    """

    class Level(models.TextChoices):
        AGENT = "agent", "Agent"
        PLATFORM = "platform", "Platform"
        CHAT = "chat", "Chat"

    class Source(models.TextChoices):
        SUMMARISED = "summarised", "Summarised from chat"
        MANUAL = "manual", "Written by hand"
        IMPORTED = "imported", "Imported"
        AGGREGATED = "aggregated", "Merged from other memories"

    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="memories")
    level = models.CharField(max_length=10, choices=Level.choices)
    platform = models.CharField(max_length=32, blank=True)
    stream_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=200)
    content = models.TextField()
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MANUAL)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    expires = models.DateTimeField(null=True, blank=True)
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS, null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            HnswIndex(
                name="memory_embedding_hnsw", fields=["embedding"], m=16, ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            models.Index(fields=["agent", "level", "platform", "stream_id"], name="memory_scope"),
            models.Index(fields=["expires"], name="memory_expires"),
            GinIndex(fields=["tags"], name="memory_tags"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(level="agent", platform="", stream_id="")
                    | models.Q(level="platform", stream_id="") & ~models.Q(platform="")
                    | models.Q(level="chat") & ~models.Q(platform="") & ~models.Q(stream_id="")
                ),
                name="memory_scope_matches_level",
            )
        ]

    def __str__(self) -> str:
        return f"[{self.level}] {self.title}"


class Conflict(models.Model):
    """An open question or a contradiction the agent noticed, tracked until resolved."""

    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="conflicts")
    platform = models.CharField(max_length=32, blank=True)
    stream_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=200)
    context = models.TextField(blank=True)
    following = models.BooleanField(default=True)  # still being watched for an answer
    resolved = models.BooleanField(default=False)
    resolution = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["resolved", "-created"]

    def __str__(self) -> str:
        return self.title


class SummaryCursor(models.Model):
    """How far a stream's messages have been summarised into memory."""

    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+")
    stream_id = models.CharField(max_length=64)
    last_message_pk = models.BigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "stream_id"], name="one_cursor_per_stream")]

    def __str__(self) -> str:
        return f"{self.stream_id[:8]} at {self.last_message_pk}"


class HourlyStats(models.Model):
    """Hourly roll-up of a tenant's traffic and LLM usage, per agent, platform and model."""

    hour = models.DateTimeField()
    agent_slug = models.CharField(max_length=40)
    platform = models.CharField(max_length=32, blank=True)
    model_name = models.CharField(max_length=100, blank=True)
    messages_in = models.PositiveIntegerField(default=0)
    messages_out = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)
    llm_calls = models.PositiveIntegerField(default=0)
    tokens_in = models.PositiveBigIntegerField(default=0)
    tokens_out = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=8, default=0)
    latency_ms_total = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["hour"]
        constraints = [
            models.UniqueConstraint(fields=["hour", "agent_slug", "platform", "model_name"], name="one_rollup_per_hour_key")
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.agent_slug} {self.platform} {self.model_name}"
