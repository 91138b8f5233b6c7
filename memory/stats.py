"""Hourly roll-ups of a tenant's traffic and LLM usage, for the dashboard's charts."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from chat.models import Message, UsageRecord
from memory.models import HourlyStats


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def rollup_hours(since: datetime, until: datetime | None = None) -> int:
    """Recompute the roll-ups of every hour from `since` to `until` (default: now).

    Recomputing (not incrementing) makes a run idempotent: running it twice, or after
    late rows arrive, gives the same figures as the source tables. Returns rows written.
    """
    start, end = hour_start(since), hour_start(until or timezone.now()) + timedelta(hours=1)
    rows: dict[tuple, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    messages = (
        Message.objects.filter(time__gte=start, time__lt=end)
        .annotate(hour=TruncHour("time"))
        .values("hour", "stream__agent__slug", "stream__platform", "direction")
        .annotate(n=Count("id"))
    )
    for row in messages:
        key = (row["hour"], row["stream__agent__slug"], row["stream__platform"], "")
        if row["direction"] == Message.Direction.IN:
            rows[key]["messages_in"] += row["n"]
        else:
            rows[key]["messages_out"] += row["n"]
            rows[key]["replies"] += row["n"]
    usage = (
        UsageRecord.objects.filter(created__gte=start, created__lt=end)
        .annotate(hour=TruncHour("created"))
        .values("hour", "agent__slug", "platform", "model_name")
        .annotate(calls=Count("id"), tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"), cost=Sum("cost"), latency=Sum("latency_ms"))
    )
    for row in usage:
        key = (row["hour"], row["agent__slug"] or "", row["platform"] or "", row["model_name"] or "")
        rows[key]["llm_calls"] += row["calls"]
        rows[key]["tokens_in"] += row["tokens_in"] or 0
        rows[key]["tokens_out"] += row["tokens_out"] or 0
        rows[key]["cost"] += row["cost"] or Decimal(0)
        rows[key]["latency_ms_total"] += row["latency"] or 0
    with transaction.atomic():
        HourlyStats.objects.filter(hour__gte=start, hour__lt=end).delete()
        HourlyStats.objects.bulk_create(
            HourlyStats(hour=hour, agent_slug=agent, platform=platform, model_name=model, **figures)
            for (hour, agent, platform, model), figures in rows.items()
        )
    return len(rows)


GROUPS = {"day": None, "agent": "agent_slug", "platform": "platform", "model": "model_name", "hour": "hour"}


def usage_series(*, since: datetime, until: datetime, by: str = "day", agent_slug: str | None = None) -> list[dict[str, Any]]:
    """Roll-ups summed per day (or hour, agent, platform, model) for charts."""
    stats = HourlyStats.objects.filter(hour__gte=hour_start(since), hour__lt=until)
    if agent_slug:
        stats = stats.filter(agent_slug=agent_slug)
    if by == "day":
        from django.db.models.functions import TruncDay

        stats = stats.annotate(day=TruncDay("hour"))
        field = "day"
    else:
        field = GROUPS[by]
    rows = stats.values(field).annotate(
        messages_in=Sum("messages_in"), messages_out=Sum("messages_out"), replies=Sum("replies"), llm_calls=Sum("llm_calls"),
        tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"), cost=Sum("cost"), latency=Sum("latency_ms_total"),
    ).order_by(field)
    series = []
    for row in rows:
        key = row[field]
        series.append({
            by: key.date().isoformat() if by == "day" else key.isoformat() if by == "hour" else key,
            "messages_in": row["messages_in"] or 0, "messages_out": row["messages_out"] or 0, "replies": row["replies"] or 0,
            "llm_calls": row["llm_calls"] or 0, "tokens_in": row["tokens_in"] or 0, "tokens_out": row["tokens_out"] or 0,
            "cost": str(row["cost"] or 0),
            "avg_latency_ms": round((row["latency"] or 0) / row["llm_calls"]) if row["llm_calls"] else 0,
        })
    return series
