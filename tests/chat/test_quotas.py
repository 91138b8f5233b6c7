"""Plan limits: reservations are atomic, commits record real usage, alerts are raised."""
from __future__ import annotations

import logging
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from chat import quotas
from chat.models import UsageAlert, UsageRecord
from tenants.models import Tenant
from tests.chat.conftest import forget_chat_counters, give_plan

pytestmark = pytest.mark.usefixtures("clean_counters")


def test_a_commit_replaces_the_estimate_by_the_real_usage(tenant_a: Tenant) -> None:
    # given
    give_plan(tenant_a, daily_tokens=10_000)
    reservation = quotas.reserve(tenant_a, tokens=2_000, cost=Decimal("0.01"), agent_slug="mai")
    assert quotas.usage_summary(tenant_a)["tokens_today"] == 2_000
    # when
    quotas.commit(tenant_a, reservation, tokens=120, cost=Decimal("0.000123"))
    # then
    summary = quotas.usage_summary(tenant_a)
    assert summary["tokens_today"] == 120
    assert summary["requests_today"] == 1
    assert summary["cost_month"] == Decimal("0.000123")
    assert summary["limits"]["daily_tokens"] == 10_000
    assert summary["level"] == "ok"


def test_a_released_reservation_gives_everything_back(tenant_a: Tenant) -> None:
    give_plan(tenant_a)
    reservation = quotas.reserve(tenant_a, tokens=500, cost=Decimal("0.5"))
    quotas.release(reservation)
    summary = quotas.usage_summary(tenant_a)
    assert (summary["tokens_today"], summary["requests_today"], summary["cost_month"]) == (0, 0, Decimal("0"))


def test_a_reservation_past_the_daily_tokens_is_refused_logged_and_alerted(
    tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    give_plan(tenant_a, daily_tokens=1_000)
    quotas.reserve(tenant_a, tokens=900, cost=Decimal("0"))
    # when
    with caplog.at_level(logging.WARNING, logger="chat.quotas"), pytest.raises(quotas.QuotaExceeded) as refused:
        quotas.reserve(tenant_a, tokens=200, cost=Decimal("0"), agent_slug="mai")
    # then
    assert refused.value.metric == "daily_tokens"
    assert quotas.usage_summary(tenant_a)["tokens_today"] == 900  # nothing was taken
    record = next(r for r in caplog.records if "quota exceeded" in r.getMessage())
    assert (record.tenant, record.agent) == (tenant_a.schema_name, "mai")
    with tenant_context(tenant_a):
        alert = UsageAlert.objects.get(metric="daily_tokens", level="exceeded")
    assert alert.agent_slug == "mai" and alert.limit == 1_000


def test_the_daily_requests_and_monthly_cost_limits_refuse_too(tenant_a: Tenant) -> None:
    give_plan(tenant_a, daily_requests=1, monthly_cost="0.10")
    quotas.reserve(tenant_a, tokens=1, cost=Decimal("0.01"))
    with pytest.raises(quotas.QuotaExceeded) as by_requests:
        quotas.reserve(tenant_a, tokens=1, cost=Decimal("0.01"))
    give_plan(tenant_a, daily_requests=100, monthly_cost="0.10")
    with pytest.raises(quotas.QuotaExceeded) as by_cost:
        quotas.reserve(tenant_a, tokens=1, cost=Decimal("0.20"))
    assert (by_requests.value.metric, by_cost.value.metric) == ("daily_requests", "monthly_cost")


def test_a_plan_limit_of_zero_refuses_every_call(tenant_a: Tenant) -> None:
    give_plan(tenant_a, daily_tokens=0)
    with pytest.raises(quotas.QuotaExceeded):
        quotas.reserve(tenant_a, tokens=1, cost=Decimal("0"))
    assert quotas.usage_summary(tenant_a)["levels"]["daily_tokens"] == "exceeded"


@pytest.mark.parametrize(
    ("used", "level"), [(799, "ok"), (800, "warning"), (949, "warning"), (950, "critical"), (1_000, "exceeded")]
)
def test_the_summary_level_follows_the_share_of_the_limit_used(tenant_a: Tenant, used: int, level: str) -> None:
    give_plan(tenant_a, daily_tokens=1_000)
    reservation = quotas.reserve(tenant_a, tokens=used, cost=Decimal("0"))
    quotas.commit(tenant_a, reservation, tokens=used, cost=Decimal("0"))
    summary = quotas.usage_summary(tenant_a)
    assert summary["levels"]["daily_tokens"] == level
    assert summary["level"] == level


def test_crossing_eighty_percent_records_one_warning_alert(tenant_a: Tenant) -> None:
    give_plan(tenant_a, daily_tokens=1_000)
    for _ in range(3):
        reservation = quotas.reserve(tenant_a, tokens=300, cost=Decimal("0"))
        quotas.commit(tenant_a, reservation, tokens=300, cost=Decimal("0"))
    reservation = quotas.reserve(tenant_a, tokens=10, cost=Decimal("0"))
    quotas.commit(tenant_a, reservation, tokens=10, cost=Decimal("0"))
    with tenant_context(tenant_a):
        alerts = list(UsageAlert.objects.values_list("metric", "level"))
    assert alerts == [("daily_tokens", "warning")]


def test_missing_counters_are_rebuilt_from_usage_rows(tenant_a: Tenant) -> None:
    # given: usage rows written today, and Redis without counters
    give_plan(tenant_a)
    before = quotas.usage_summary(tenant_a)
    with tenant_context(tenant_a):
        UsageRecord.objects.create(task="replyer", model_name="m", tokens_in=30, tokens_out=12,
                                   cost=Decimal("0.25"))
        UsageRecord.objects.create(task="replyer", model_name="m", status=UsageRecord.Status.ERROR)
    forget_chat_counters(tenant_a)
    # when
    after = quotas.usage_summary(tenant_a)
    # then: failed calls count no request
    assert after["tokens_today"] - before["tokens_today"] == 42
    assert after["requests_today"] - before["requests_today"] == 1
    assert after["cost_month"] - before["cost_month"] == Decimal("0.25")


def test_another_tenants_usage_is_not_counted(tenant_a: Tenant, tenant_b: Tenant) -> None:
    give_plan(tenant_a)
    before_b = quotas.usage_summary(tenant_b)
    reservation = quotas.reserve(tenant_a, tokens=77, cost=Decimal("1"))
    quotas.commit(tenant_a, reservation, tokens=77, cost=Decimal("1"))
    assert quotas.usage_summary(tenant_a)["tokens_today"] == 77
    after_b = quotas.usage_summary(tenant_b)
    assert [after_b[k] for k in ("tokens_today", "requests_today", "cost_month")] == [
        before_b[k] for k in ("tokens_today", "requests_today", "cost_month")]


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_overshoot_the_limit(tenant_a: Tenant) -> None:
    # given: room for exactly ten reservations of 100 tokens
    give_plan(tenant_a, daily_tokens=1_000)
    tenant = Tenant.objects.get(pk=tenant_a.pk)
    granted: list[quotas.Reservation] = []
    refused: list[quotas.QuotaExceeded] = []
    start = threading.Barrier(30)

    def attempt() -> None:
        start.wait()
        try:
            granted.append(quotas.reserve(tenant, tokens=100, cost=Decimal("0")))
        except quotas.QuotaExceeded as exc:
            refused.append(exc)
        finally:
            connection.close()  # hand the pooled connection back

    # when: thirty threads race
    threads = [threading.Thread(target=attempt) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert (len(granted), len(refused)) == (10, 20)
    assert quotas.usage_summary(tenant)["tokens_today"] == 1_000
