"""Housekeeping of a tenant's data: expired memories, messages past retention."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from agents.config import effective_config
from chat.models import Message
from memory.services import expire_memories


def purge_old_messages() -> int:
    """Delete messages older than the tenant's `retention_days`, a bounded batch at a time."""
    days = effective_config()["retention_days"]
    cutoff = timezone.now() - timedelta(days=days)
    old = list(Message.objects.filter(time__lt=cutoff).order_by("pk").values_list("pk", flat=True)[: settings.PURGE_BATCH])
    deleted, _ = Message.objects.filter(pk__in=old).delete()
    return deleted


def run_maintenance() -> dict[str, int]:
    """Runs inside the tenant's schema."""
    return {"memories_expired": expire_memories(), "messages_purged": purge_old_messages()}
