"""Periodic per-tenant work: summaries into memory, maintenance, statistics.

Beat runs `dispatch(kind)` in the public schema; it queues one task per active tenant
inside that tenant's context, so tenant_schemas_celery runs it in the tenant's schema.
Each tenant's task is separate (own time limit, own failure): one slow or failing
tenant does not hold up the others. Queued tasks expire after one interval, so a
backlog never piles up.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from maibot.celery import app

logger = logging.getLogger(__name__)


def active_tenants() -> list:
    """Active tenants with an active agent: a message or an adapter's key use in the window."""
    from chat.models import ChatStream
    from tenants.models import ApiKey, Tenant

    cutoff = timezone.now() - timedelta(hours=settings.ACTIVE_AGENT_WINDOW_HOURS)
    chosen = []
    for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE).exclude(schema_name="public"):
        if ApiKey.objects.filter(tenant=tenant, last_used__gte=cutoff, revoked_at__isnull=True).exists():
            chosen.append(tenant)
            continue
        with tenant_context(tenant):
            if ChatStream.objects.filter(last_message_at__gte=cutoff).exists():
                chosen.append(tenant)
    return chosen


@app.task(name="memory.dispatch", ignore_result=True)
def dispatch(kind: str) -> int:
    """Queue the tenant task `kind` for every active tenant; returns how many were queued."""
    task, interval = {
        "summarise_due": (summarise_tenant, settings.SUMMARY_CHECK_SECONDS),
        "summarise_all": (summarise_tenant, settings.SUMMARY_INTERVAL_SECONDS),
        "maintenance": (maintenance_tenant, settings.MAINTENANCE_INTERVAL_SECONDS),
        "stats": (rollup_tenant, settings.STATS_INTERVAL_SECONDS),
    }[kind]
    tenants = active_tenants()
    for tenant in tenants:
        with tenant_context(tenant):
            kwargs = {"scheduled": kind == "summarise_all"} if task is summarise_tenant else {}
            task.apply_async(kwargs=kwargs, expires=interval)
    return len(tenants)


@app.task(name="memory.summarise_tenant", ignore_result=True)
def summarise_tenant(scheduled: bool = False) -> int:
    """Summarise the tenant's recently active streams that have enough new messages.

    A scheduled run takes any stream with SUMMARY_MIN_MESSAGES new messages; the frequent
    check only those past their `summarise_every_messages` setting.
    """
    from agents.config import effective_config
    from chat.models import ChatStream
    from memory.summaries import pending_count, summarise_stream

    cutoff = timezone.now() - timedelta(hours=settings.ACTIVE_AGENT_WINDOW_HOURS)
    done = 0
    streams = ChatStream.objects.filter(last_message_at__gte=cutoff, agent__is_active=True).select_related("agent")
    for stream in streams:
        threshold = settings.SUMMARY_MIN_MESSAGES if scheduled else effective_config(stream.agent, stream.platform)["summarise_every_messages"]
        try:
            if pending_count(stream) >= threshold:
                done += summarise_stream(stream, min_messages=threshold).memories
        except Exception:  # noqa: BLE001 - one stream's failure must not stop the others
            logger.exception("summary of stream %s failed; it will be retried next run", stream.stream_id[:12])
    return done


@app.task(name="memory.maintenance_tenant", ignore_result=True)
def maintenance_tenant() -> dict[str, int]:
    from memory.maintenance import run_maintenance

    result = run_maintenance()
    logger.info("maintenance: %s", result)
    return result


@app.task(name="memory.rollup_tenant", ignore_result=True)
def rollup_tenant(hours: int = 2) -> int:
    from memory.stats import rollup_hours

    return rollup_hours(timezone.now() - timedelta(hours=hours))


@app.task(name="memory.expire_memories", ignore_result=False)
def expire_memories_now() -> int:
    from memory.services import expire_memories

    return expire_memories()
