"""Dashboard pages for chats (history and live view), the playground, and usage."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from agents.models import Agent
from chat import quotas
from chat.models import ChatStream, Message, UsageRecord
from tenants.dashboard import member_required


def _agent(slug: str) -> Agent:
    agent = Agent.objects.filter(slug=slug).first()
    if agent is None:
        raise Http404("No such agent.")
    return agent


@member_required()
def chat_list(request: HttpRequest) -> HttpResponse:
    streams = ChatStream.objects.select_related("agent").annotate(count=Count("messages")).order_by("-last_message_at")
    agent_slug, platform = request.GET.get("agent", ""), request.GET.get("platform", "")
    if agent_slug:
        streams = streams.filter(agent__slug=agent_slug)
    if platform:
        streams = streams.filter(platform=platform)
    page = Paginator(streams, settings.DASHBOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    platforms = ChatStream.objects.values_list("platform", flat=True).distinct().order_by("platform")
    return render(request, "dashboard/chats.html", {
        "page": page, "agents": Agent.objects.order_by("slug"), "platforms": platforms, "agent_slug": agent_slug, "platform": platform,
    })


@member_required()
def chat_detail(request: HttpRequest, stream_id: str) -> HttpResponse:
    stream = ChatStream.objects.select_related("agent").filter(stream_id=stream_id).first()
    if stream is None:
        raise Http404("No such chat.")
    history = Message.objects.filter(stream=stream).select_related("sender").order_by("-pk")
    query = request.GET.get("q", "").strip()
    if query:
        history = history.filter(Q(text__icontains=query) | Q(sender__nickname__icontains=query))
    page = Paginator(history, settings.DASHBOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "dashboard/chat.html", {"stream": stream, "page": page, "q": query})


@member_required()
def live(request: HttpRequest, slug: str) -> HttpResponse:
    agent = _agent(slug)
    recent = Message.objects.filter(stream__agent=agent).select_related("sender", "stream").order_by("-pk")[:20]
    return render(request, "dashboard/live.html", {"agent": agent, "recent": reversed(list(recent))})


@member_required("member")
def playground(request: HttpRequest, slug: str) -> HttpResponse:
    from chat.playground import playground_turn

    agent = _agent(slug)
    result, text, error = None, "", ""
    if request.method == "POST":
        text = request.POST.get("text", "").strip()
        if not text or len(text) > 2000:
            error = "Write a message of 1-2000 characters."
        else:
            try:
                outcome = playground_turn(agent, text, f"dashboard-{request.user.get_username().split('@')[0]}")
            except Exception as problem:  # noqa: BLE001 - show the operator what went wrong
                error = f"{type(problem).__name__}: {problem}"
            else:
                result = {
                    "reply": outcome.reply, "action": outcome.decision, "reason": outcome.reason, "stage": outcome.turn.stage,
                    "memories": [m.as_dict() if hasattr(m, "as_dict") else m for m in outcome.memories],
                }
    return render(request, "dashboard/playground.html", {"agent": agent, "result": result, "text": text, "error": error},
                  status=400 if error else 200)


@member_required()
def usage(request: HttpRequest) -> HttpResponse:
    from memory.stats import rollup_hours, usage_series

    days = 14
    now = timezone.now()
    rollup_hours(now - timedelta(hours=2))  # the last hours are fresh on every visit
    series = usage_series(since=now - timedelta(days=days), until=now + timedelta(hours=1), by="day")
    by_agent = usage_series(since=now - timedelta(days=days), until=now + timedelta(hours=1), by="agent")
    by_model = usage_series(since=now - timedelta(days=days), until=now + timedelta(hours=1), by="model")
    # Every day of the period gets a bar, quiet days included.
    by_day = {row["day"]: row for row in series}
    today = timezone.localdate()
    series = [by_day.get((today - timedelta(days=n)).isoformat(), {"day": (today - timedelta(days=n)).isoformat(), "messages_in": 0, "tokens_in": 0, "tokens_out": 0, "cost": "0", "avg_latency_ms": 0}) for n in range(days - 1, -1, -1)]
    charts = []
    for key, label in (("messages_in", "Messages in"), ("tokens_in", "Tokens in"), ("tokens_out", "Tokens out"), ("cost", "Cost"), ("avg_latency_ms", "Avg latency (ms)")):
        values = [float(row[key]) for row in series]
        peak = max(values) if values else 0
        charts.append({"key": key, "label": label, "bars": [
            {"day": row["day"], "value": row[key], "height": int(100 * float(row[key]) / peak) if peak else 0} for row in series
        ]})
    summary = quotas.usage_summary(request.tenant)
    gauges = []
    for metric, used_key in (("daily_tokens", "tokens_today"), ("daily_requests", "requests_today"), ("monthly_cost", "cost_month")):
        limit = summary["limits"][metric]
        used = summary[used_key]
        gauges.append({"metric": metric, "used": used, "limit": limit, "level": summary["levels"][metric],
                       "percent": min(100, int(100 * float(used) / float(limit))) if limit else 0})
    alerts = UsageRecord.objects.filter(status=UsageRecord.Status.QUOTA_EXCEEDED).count()
    return render(request, "dashboard/usage.html", {
        "charts": charts, "by_agent": [r for r in by_agent if r["agent"]], "by_model": [r for r in by_model if r["model"]],
        "summary": summary, "gauges": gauges, "refused": alerts, "days": days,
    })


