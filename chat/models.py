"""Chat data in each tenant's schema."""
from __future__ import annotations

from decimal import Decimal

from django.db import models


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

    agent = models.ForeignKey("agents.Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
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

    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+")
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
