"""Dashboard pages for chats (history and live view), the playground, and usage."""
from __future__ import annotations

import logging
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

logger = logging.getLogger(__name__)


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


PLAYGROUND_MAX_CHARS = 2000
PLAYGROUND_TRANSCRIPT = 20


@member_required("member")
def playground(request: HttpRequest, slug: str) -> HttpResponse:
    from chat.playground import PLAYGROUND_PLATFORM, playground_turn

    agent = _agent(slug)
    # Each dashboard user has their own private playground chat with the agent.
    user_name = f"dashboard-{request.user.get_username().split('@')[0]}"
    result, text, error = None, "", ""
    if request.method == "POST":
        text = request.POST.get("text", "").strip()
        if not text or len(text) > PLAYGROUND_MAX_CHARS:
            error = f"Write a message of 1-{PLAYGROUND_MAX_CHARS} characters."
        else:
            try:
                outcome = playground_turn(agent, text, user_name)
            except Exception as problem:  # noqa: BLE001 - show the operator what went wrong, keep the page
                logger.exception("playground turn failed for agent %s", agent.slug)
                error = f"The turn failed: {type(problem).__name__}: {problem}"
            else:
                text = ""
                result = {
                    "reply": outcome.reply, "action": outcome.decision, "reason": outcome.reason,
                    "stage": outcome.turn.stage, "source": outcome.turn.source,
                    "memories": [m.as_dict() if hasattr(m, "as_dict") else m for m in outcome.memories],
                }
    stream = ChatStream.objects.filter(agent=agent, platform=PLAYGROUND_PLATFORM, private_user_id=user_name).first()
    transcript = list(Message.objects.filter(stream=stream).order_by("-pk")[:PLAYGROUND_TRANSCRIPT])[::-1] if stream else []
    return render(request, "dashboard/playground.html", {
        "agent": agent, "result": result, "text": text, "error": error, "transcript": transcript, "user_name": user_name,
    }, status=400 if error else 200)


CHART_DAYS = 14
CHARTS = (("messages_in", "Messages in"), ("replies", "Replies"), ("tokens_in", "Tokens in"), ("tokens_out", "Tokens out"),
          ("cost", "Cost"), ("avg_latency_ms", "Average latency (ms)"))
# The SVG charts' drawing box; the browser scales it to the card.
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 280, 100, 3


def _daily(series: list[dict], days: int) -> list[dict]:
    """One row per day of the period, quiet days included, oldest first."""
    by_day = {row["day"]: row for row in series}
    today = timezone.localdate()
    empty = {"messages_in": 0, "replies": 0, "tokens_in": 0, "tokens_out": 0, "cost": "0", "avg_latency_ms": 0}
    dates = [(today - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]
    return [by_day.get(day, {**empty, "day": day}) for day in dates]


def _bar_chart(rows: list[dict], key: str, label: str) -> dict:
    values = [float(row[key]) for row in rows]
    peak = max(values, default=0)
    width = CHART_WIDTH / max(len(rows), 1)
    bars = []
    for n, (row, value) in enumerate(zip(rows, values, strict=True)):
        height = CHART_HEIGHT * value / peak if peak else 0
        bars.append({"day": row["day"], "value": row[key], "x": round(n * width + BAR_GAP / 2, 2), "width": round(width - BAR_GAP, 2),
                     "y": round(CHART_HEIGHT - height, 2), "height": round(height, 2)})
    return {"key": key, "label": label, "bars": bars, "peak": rows[values.index(peak)][key] if peak else 0,
            "total": sum(values), "first": rows[0]["day"] if rows else "", "last": rows[-1]["day"] if rows else ""}


def _with_share(rows: list[dict], key: str) -> list[dict]:
    """Rows with `share`, their percentage of the largest value, for the inline bars."""
    peak = max((float(row[key]) for row in rows), default=0)
    return [{**row, "share": int(100 * float(row[key]) / peak) if peak else 0} for row in rows]


def _gauges(summary: dict) -> list[dict]:
    gauges = []
    for metric, used_key, label in (("daily_tokens", "tokens_today", "Tokens today"), ("daily_requests", "requests_today", "Requests today"),
                                    ("monthly_cost", "cost_month", "Cost this month")):
        limit, used = summary["limits"][metric], summary[used_key]
        gauges.append({"metric": metric, "label": label, "used": used, "limit": limit, "level": summary["levels"][metric],
                       "percent": min(100, int(100 * float(used) / float(limit))) if limit else 0})
    return gauges


@member_required()
def usage(request: HttpRequest) -> HttpResponse:
    from memory.stats import rollup_hours, usage_series

    now = timezone.now()
    rollup_hours(now - timedelta(hours=2))  # the last hours are fresh on every visit
    period = {"since": now - timedelta(days=CHART_DAYS), "until": now + timedelta(hours=1)}
    agents = Agent.objects.order_by("slug")
    agent_slug = request.GET.get("agent", "")
    if agent_slug and not agents.filter(slug=agent_slug).exists():
        raise Http404("No such agent.")
    days = _daily(usage_series(**period, by="day", agent_slug=agent_slug or None), CHART_DAYS)
    summary = quotas.usage_summary(request.tenant)
    return render(request, "dashboard/usage.html", {
        "charts": [_bar_chart(days, key, label) for key, label in CHARTS], "chart_height": CHART_HEIGHT, "chart_width": CHART_WIDTH,
        "by_agent": _with_share([r for r in usage_series(**period, by="agent") if r["agent"]], "tokens_in"),
        "by_model": _with_share([r for r in usage_series(**period, by="model") if r["model"]], "tokens_in"),
        "summary": summary, "gauges": _gauges(summary), "days": CHART_DAYS, "agents": agents, "agent_slug": agent_slug,
        "refused": UsageRecord.objects.filter(status=UsageRecord.Status.QUOTA_EXCEEDED, created__gte=period["since"]).count(),
    })
