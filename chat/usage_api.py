"""`/api/v2/usage`: the tenant's usage against its plan, and where it went."""
from __future__ import annotations

import re
import zoneinfo
from datetime import date, timedelta

from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncDay
from django.utils import timezone
from django.utils.dateparse import parse_date
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from agents.config import effective_config
from chat import quotas
from chat.models import UsageAlert, UsageRecord
from maibot.api.errors import ApiError
from maibot.api.views import TenantAPIView
from tenants.apikeys import KeyIdentity

GROUPINGS = {"agent": "agent__slug", "model": "model_name", "day": "day", "platform": "platform", "task": "task"}
MAX_DAYS = 366
MAX_ALERTS = 20
AGENT_SLUG = re.compile(r"^[-\w]{1,40}$", re.ASCII)


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = UsageAlert
        fields = ["metric", "level", "period", "used", "limit", "agent_slug", "created"]


class UsageSummaryView(TenantAPIView):
    required_scopes = {"GET": "config_read"}

    @extend_schema(
        responses=inline_serializer("UsageSummary", {"summary": serializers.DictField(), "alerts": AlertSerializer(many=True)}),
        summary="Usage today / this month against the plan's limits, with alert levels (ok, warning ≥80 %, critical ≥95 %, exceeded)",
    )
    def get(self, request: Request) -> Response:
        summary = quotas.usage_summary(request.api_tenant)
        alerts = AlertSerializer(UsageAlert.objects.order_by("-created")[:MAX_ALERTS], many=True).data
        if isinstance(request.auth, KeyIdentity):
            # Limits are the tenant's, so a key sees every alert, but not which other agent crossed it.
            for alert in alerts:
                if alert["agent_slug"] != request.auth.agent_slug:
                    alert["agent_slug"] = ""
        return Response({"summary": summary, "alerts": alerts})


class UsageBreakdownView(TenantAPIView):
    required_scopes = {"GET": "config_read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("by", str, enum=list(GROUPINGS), description="Group by agent, model, day, platform or task"),
            OpenApiParameter("since", str, description="First day (YYYY-MM-DD), default 30 days ago"),
            OpenApiParameter("until", str, description="Last day (YYYY-MM-DD), default today"),
            OpenApiParameter("agent", str, description="Only this agent"),
        ],
        responses=inline_serializer("UsageBreakdown", {"by": serializers.CharField(), "rows": serializers.ListField(child=serializers.DictField())}),
        summary="Usage broken down by agent, model, day (in the tenant's timezone), platform or task",
    )
    def get(self, request: Request) -> Response:
        by = request.query_params.get("by", "day")
        if by not in GROUPINGS:
            raise ApiError("VALIDATION_ERROR", "Unknown grouping.", fields={"by": [f"Choose one of: {', '.join(GROUPINGS)}."]})
        agent_slug = request.auth.agent_slug if isinstance(request.auth, KeyIdentity) else request.query_params.get("agent")
        if agent_slug and not AGENT_SLUG.fullmatch(agent_slug):
            raise ApiError("VALIDATION_ERROR", "Unknown agent.", fields={"agent": ["Give an agent's slug."]})
        tz = zoneinfo.ZoneInfo(effective_config()["timezone"])
        with timezone.override(tz):  # days are the tenant's days
            since, until = _period(request)
            rows = usage_breakdown(by, since, until, agent_slug=agent_slug or None)
        return Response({"by": by, "since": since.isoformat(), "until": until.isoformat(), "timezone": str(tz), "rows": rows})


def usage_breakdown(by: str, since: date, until: date, *, agent_slug: str | None = None) -> list[dict]:
    """Requests, tokens, cost, latency and errors per agent, model, day, platform or task.

    Days are those of the current timezone (`timezone.override`). Runs inside the tenant's schema.
    """
    records = UsageRecord.objects.filter(created__date__gte=since, created__date__lte=until)
    if agent_slug:
        records = records.filter(agent__slug=agent_slug)
    if by == "day":
        records = records.annotate(day=TruncDay("created"))
    field = GROUPINGS[by]
    rows = (
        records.values(field)
        .annotate(
            requests=Count("id"), tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"), cost=Sum("cost"),
            avg_latency_ms=Avg("latency_ms"), errors=Count("id", filter=~Q(status=UsageRecord.Status.OK)),
        )
        .order_by(field)
    )
    return [
        {
            by: row[field].date().isoformat() if by == "day" else row[field],
            "requests": row["requests"], "tokens_in": row["tokens_in"] or 0, "tokens_out": row["tokens_out"] or 0,
            "cost": str(row["cost"] or 0), "avg_latency_ms": round(row["avg_latency_ms"] or 0), "errors": row["errors"],
        }
        for row in rows
    ]


def _period(request: Request) -> tuple[date, date]:
    today = timezone.localdate()
    problems = {}
    values = {}
    for name, default in (("since", today - timedelta(days=30)), ("until", today)):
        raw = request.query_params.get(name)
        try:
            values[name] = parse_date(raw) if raw else default
        except ValueError:  # well formed but not a day, e.g. 2025-02-30
            values[name] = None
        if values[name] is None:
            problems[name] = ["Use YYYY-MM-DD."]
    if not problems and values["until"] < values["since"]:
        problems["until"] = ["Give a day on or after since."]
    elif not problems and (values["until"] - values["since"]).days > MAX_DAYS:
        problems["since"] = [f"Ask for at most {MAX_DAYS} days."]
    if problems:
        raise ApiError("VALIDATION_ERROR", "Invalid period.", fields=problems)
    return values["since"], values["until"]
