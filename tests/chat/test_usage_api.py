from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import UsageRecord
from tests.api_fixtures import key_client


def _usage(agent, model: str, tokens_in: int, tokens_out: int, cost: str, days_ago: int = 0, status: str = "ok") -> None:
    record = UsageRecord.objects.create(
        agent=agent, platform="qq", task="replyer", model_name=model, tokens_in=tokens_in, tokens_out=tokens_out,
        cost=Decimal(cost), latency_ms=100, status=status,
    )
    UsageRecord.objects.filter(pk=record.pk).update(created=timezone.now() - timedelta(days=days_ago))


def test_usage_is_broken_down_by_agent_model_and_day(member_client, tenant_a, make_agent):
    mai, owl = make_agent(tenant_a, "mai"), make_agent(tenant_a, "owl")
    with tenant_context(tenant_a):
        _usage(mai, "deepseek", 100, 50, "0.001")
        _usage(mai, "qwen", 10, 5, "0.0001", days_ago=1)
        _usage(owl, "deepseek", 1000, 500, "0.01", status="error")
    viewer = member_client("viewer")

    by_agent = viewer.get("/api/v2/usage/breakdown?by=agent").json()["data"]["rows"]
    by_model = viewer.get("/api/v2/usage/breakdown?by=model").json()["data"]["rows"]
    by_day = viewer.get("/api/v2/usage/breakdown?by=day").json()["data"]["rows"]

    assert [(r["agent"], r["tokens_in"], r["requests"], r["errors"]) for r in by_agent] == [("mai", 110, 2, 0), ("owl", 1000, 1, 1)]
    assert [(r["model"], r["tokens_out"], Decimal(r["cost"])) for r in by_model] == [("deepseek", 550, Decimal("0.011")), ("qwen", 5, Decimal("0.0001"))]
    assert [r["requests"] for r in by_day] == [1, 2]


def test_the_summary_gives_usage_limits_and_alert_level(member_client, tenant_a):
    body = member_client("viewer").get("/api/v2/usage").json()["data"]["summary"]

    assert body["limits"]["daily_tokens"] == tenant_a.plan.daily_tokens
    assert body["level"] in {"ok", "warning", "critical", "exceeded"}
    assert set(body["levels"]) == {"daily_tokens", "daily_requests", "monthly_cost"}


def test_a_key_sees_only_its_own_agents_usage_and_tenant_b_sees_none(host_a, host_b, tenant_a, tenant_b, make_agent, key_for, member_client):
    mai, owl = make_agent(tenant_a, "mai"), make_agent(tenant_a, "owl")
    make_agent(tenant_b, "mai")
    with tenant_context(tenant_a):
        _usage(mai, "deepseek", 1, 1, "0.1")
        _usage(owl, "deepseek", 2, 2, "0.2")

    mine = key_client(host_a, key_for(tenant_a, "mai")).get("/api/v2/usage/breakdown?by=agent").json()["data"]["rows"]
    theirs = key_client(host_b, key_for(tenant_b, "mai")).get("/api/v2/usage/breakdown?by=agent").json()["data"]["rows"]

    assert [r["agent"] for r in mine] == ["mai"]
    assert theirs == []


def test_a_bad_grouping_or_date_is_a_field_error(member_client):
    viewer = member_client("viewer")

    assert viewer.get("/api/v2/usage/breakdown?by=colour").json()["errors"] == {"by": ["Choose one of: agent, model, day, platform, task."]}
    assert "since" in viewer.get("/api/v2/usage/breakdown?since=yesterday").json()["errors"]
