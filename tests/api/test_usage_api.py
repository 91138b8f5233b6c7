from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from agents import config
from chat.models import UsageAlert, UsageRecord
from tenants.services import forget_hosts
from tests.api_fixtures import key_client
from tests.chat.conftest import forget_chat_counters, give_plan


@pytest.fixture(autouse=True)
def _fresh_counters(tenant_a, tenant_b) -> Iterator[None]:
    """Quota counters live in Redis; rebuild them from each test's own usage rows."""
    forget_chat_counters(tenant_a, tenant_b)
    yield
    forget_chat_counters(tenant_a, tenant_b)


@pytest.fixture
def plan_limits(tenant_a) -> Iterator:
    """Put tenant A on a plan with the given limits, seen by the next request."""

    def put(**limits: object) -> None:
        give_plan(tenant_a, **limits)
        forget_hosts(tenant_a)  # the host lookup caches the tenant with its plan

    yield put
    forget_hosts(tenant_a)  # the plan goes with the test's transaction


def _usage(agent, model: str, tokens_in: int, tokens_out: int, cost: str, *, ago: timedelta = timedelta(0), status: str = "ok", platform: str = "qq") -> None:
    record = UsageRecord.objects.create(
        agent=agent, platform=platform, task="replyer", model_name=model, tokens_in=tokens_in, tokens_out=tokens_out,
        cost=Decimal(cost), latency_ms=100, status=status,
    )
    UsageRecord.objects.filter(pk=record.pk).update(created=timezone.now() - ago)


def test_usage_is_broken_down_by_agent_model_and_day(member_client, tenant_a, make_agent):
    mai, owl = make_agent(tenant_a, "mai"), make_agent(tenant_a, "owl")
    with tenant_context(tenant_a):
        _usage(mai, "deepseek", 100, 50, "0.001")
        _usage(mai, "qwen", 10, 5, "0.0001", ago=timedelta(days=1))
        _usage(owl, "deepseek", 1000, 500, "0.01", status="error")
    viewer = member_client("viewer")

    by_agent = viewer.get("/api/v2/usage/breakdown?by=agent").json()["data"]["rows"]
    by_model = viewer.get("/api/v2/usage/breakdown?by=model").json()["data"]["rows"]
    by_day = viewer.get("/api/v2/usage/breakdown?by=day").json()["data"]["rows"]

    assert [(r["agent"], r["tokens_in"], r["requests"], r["errors"]) for r in by_agent] == [("mai", 110, 2, 0), ("owl", 1000, 1, 1)]
    assert [(r["model"], r["tokens_out"], Decimal(r["cost"])) for r in by_model] == [("deepseek", 550, Decimal("0.011")), ("qwen", 5, Decimal("0.0001"))]
    today, yesterday = timezone.now().date(), timezone.now().date() - timedelta(days=1)
    assert [(r["day"], r["requests"]) for r in by_day] == [(yesterday.isoformat(), 1), (today.isoformat(), 2)]


def test_days_are_the_tenants_days(member_client, tenant_a, make_agent):
    mai = make_agent(tenant_a, "mai")
    now = timezone.now()
    with tenant_context(tenant_a):
        config.set_config_value("tenant", "timezone", "Pacific/Kiritimati")  # UTC+14: a different day than UTC
        _usage(mai, "m", 1, 1, "0")
    local_today = now.astimezone(timezone.get_fixed_timezone(14 * 60)).date()

    body = member_client("viewer").get("/api/v2/usage/breakdown?by=day").json()["data"]

    assert body["timezone"] == "Pacific/Kiritimati"
    assert [r["day"] for r in body["rows"]] == [local_today.isoformat()]
    assert body["until"] == local_today.isoformat()


def test_the_period_limits_what_is_counted(member_client, tenant_a, make_agent):
    mai = make_agent(tenant_a, "mai")
    with tenant_context(tenant_a):
        _usage(mai, "m", 1, 1, "0", ago=timedelta(days=40))
        _usage(mai, "m", 1, 1, "0", ago=timedelta(days=3))
    since = (timezone.now() - timedelta(days=45)).date().isoformat()
    viewer = member_client("viewer")

    default_period = viewer.get("/api/v2/usage/breakdown?by=model").json()["data"]["rows"]
    longer = viewer.get(f"/api/v2/usage/breakdown?by=model&since={since}").json()["data"]["rows"]

    assert [r["requests"] for r in default_period] == [1]
    assert [r["requests"] for r in longer] == [2]


@pytest.mark.parametrize(
    ("tokens_used", "level"), [(799, "ok"), (800, "warning"), (949, "warning"), (950, "critical"), (1000, "exceeded"), (1200, "exceeded")]
)
def test_the_alert_level_follows_the_share_of_the_plan_used(member_client, tenant_a, make_agent, plan_limits, tokens_used, level):
    plan_limits(daily_tokens=1000, daily_requests=100, monthly_cost="10")
    mai = make_agent(tenant_a, "mai")
    with tenant_context(tenant_a):
        _usage(mai, "m", tokens_used - 100, 100, "0.01")

    summary = member_client("viewer").get("/api/v2/usage").json()["data"]["summary"]

    assert (summary["tokens_today"], summary["limits"]["daily_tokens"]) == (tokens_used, 1000)
    assert summary["levels"] == {"daily_tokens": level, "daily_requests": "ok", "monthly_cost": "ok"}
    assert summary["level"] == level


def test_the_overall_level_is_the_worst_of_the_three_limits(member_client, tenant_a, make_agent, plan_limits):
    plan_limits(daily_tokens=1000, daily_requests=2, monthly_cost="1")
    mai = make_agent(tenant_a, "mai")
    with tenant_context(tenant_a):
        _usage(mai, "m", 400, 0, "0.96")  # cost 96 %: critical
        _usage(mai, "m", 400, 0, "0")  # requests 2 of 2: exceeded; tokens 80 %: warning

    summary = member_client("viewer").get("/api/v2/usage").json()["data"]["summary"]

    assert summary["levels"] == {"daily_tokens": "warning", "daily_requests": "exceeded", "monthly_cost": "critical"}
    assert summary["level"] == "exceeded"
    assert (summary["requests_today"], Decimal(str(summary["cost_month"]))) == (2, Decimal("0.96"))


def test_a_key_sees_only_its_own_agents_usage_and_tenant_b_sees_none(host_a, host_b, tenant_a, tenant_b, make_agent, key_for):
    mai, owl = make_agent(tenant_a, "mai"), make_agent(tenant_a, "owl")
    make_agent(tenant_b, "mai")
    with tenant_context(tenant_a):
        _usage(mai, "deepseek", 1, 1, "0.1")
        _usage(owl, "deepseek", 2, 2, "0.2")

    mine = key_client(host_a, key_for(tenant_a, "mai")).get("/api/v2/usage/breakdown?by=agent&agent=owl").json()["data"]["rows"]
    theirs_breakdown = key_client(host_b, key_for(tenant_b, "mai")).get("/api/v2/usage/breakdown?by=agent").json()["data"]["rows"]
    theirs_summary = key_client(host_b, key_for(tenant_b, "mai")).get("/api/v2/usage").json()["data"]["summary"]

    assert [r["agent"] for r in mine] == ["mai"]
    assert theirs_breakdown == []
    assert (theirs_summary["tokens_today"], theirs_summary["requests_today"]) == (0, 0)


def test_a_key_sees_the_tenants_alerts_but_not_which_other_agent_crossed_them(host_a, tenant_a, make_agent, key_for):
    make_agent(tenant_a, "mai")
    with tenant_context(tenant_a):
        UsageAlert.objects.create(metric="daily_tokens", level="warning", period="2025-01-01", used=800, limit=1000, agent_slug="owl")
        UsageAlert.objects.create(metric="daily_tokens", level="critical", period="2025-01-01", used=960, limit=1000, agent_slug="mai")

    alerts = key_client(host_a, key_for(tenant_a, "mai")).get("/api/v2/usage").json()["data"]["alerts"]

    assert sorted((a["level"], a["agent_slug"]) for a in alerts) == [("critical", "mai"), ("warning", "")]


def test_usage_needs_the_config_read_scope(host_a, tenant_a, make_agent, key_for):
    make_agent(tenant_a, "mai")

    response = key_client(host_a, key_for(tenant_a, "mai", scopes=("chat",))).get("/api/v2/usage")

    assert response.status_code == 403 and response.json()["error_code"] == "PERMISSION_DENIED"


def test_a_bad_grouping_or_period_is_a_field_error(member_client):
    viewer = member_client("viewer")

    assert viewer.get("/api/v2/usage/breakdown?by=colour").json()["errors"] == {"by": ["Choose one of: agent, model, day, platform, task."]}
    for query, field in (("since=yesterday", "since"), ("since=2025-02-30", "since"), ("since=2020-01-01&until=2025-01-01", "since"), ("since=2025-02-02&until=2025-02-01", "until")):
        response = viewer.get(f"/api/v2/usage/breakdown?{query}")
        assert response.status_code == 400 and field in response.json()["errors"], query


def test_an_agent_filter_the_database_cannot_hold_is_refused(member_client):
    response = member_client("viewer").get("/api/v2/usage/breakdown?by=agent&agent=%00")

    assert response.status_code == 400 and "agent" in response.json()["errors"]
