"""Plan limits on LLM use: reserve before a call, commit the real usage after.

Three limits come from the tenant's `Plan`: tokens per day, cost per month and requests
per day (UTC days and months). Counters live in Redis so every process shares them;
`reserve` checks and increments all three in one Lua script, so concurrent calls cannot
together overshoot a limit. A reservation holds the *estimated* usage (prompt size plus
the reply's token cap, at the dearest price of the models that may answer); `commit`
replaces it by the real usage and `release` gives it back when no model answered.

When a counter is missing (a new day, or Redis lost its data) it is rebuilt from the
`UsageRecord` rows before the first reservation, so the database stays the record.
A refused reservation logs a line and writes a `UsageAlert`; so does a commit that
crosses 80 % (warning) or 95 % (critical) of a limit, once per metric, level and period.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat import redis_clients
from chat.models import UsageAlert, UsageRecord
from tenants.models import Plan, Tenant

logger = logging.getLogger(__name__)

METRICS = ("daily_tokens", "monthly_cost", "daily_requests")
WARNING_RATIO = Decimal("0.80")
CRITICAL_RATIO = Decimal("0.95")
LEVEL_ORDER = ("ok", "warning", "critical", "exceeded")
MICROS = Decimal("1000000")  # cost is counted in millionths of the currency unit in Redis
DAY_KEY_SECONDS = 2 * 24 * 3600
MONTH_KEY_SECONDS = 40 * 24 * 3600
ALERT_MARK_SECONDS = 40 * 24 * 3600

# KEYS: tokens(day), requests(day), cost(month)
# ARGV: want tokens, want requests, want cost micros, limit tokens, limit requests,
#       limit cost micros (-1 = no limit), day ttl, month ttl
# Returns {1, tokens, requests, cost} after reserving, or {0, index of the refused
# metric (1 tokens, 2 requests, 3 cost), tokens, requests, cost} untouched.
_RESERVE_SCRIPT = """
local used = {}
for i = 1, 3 do used[i] = tonumber(redis.call('GET', KEYS[i]) or '0') end
for i = 1, 3 do
  local want = tonumber(ARGV[i])
  local limit = tonumber(ARGV[i + 3])
  if limit >= 0 and want > 0 and used[i] + want > limit then
    return {0, i, used[1], used[2], used[3]}
  end
end
for i = 1, 3 do
  used[i] = redis.call('INCRBY', KEYS[i], ARGV[i])
end
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[7])
redis.call('EXPIRE', KEYS[3], ARGV[8])
return {1, used[1], used[2], used[3]}
"""
_METRIC_BY_INDEX = {1: "daily_tokens", 2: "daily_requests", 3: "monthly_cost"}


class QuotaExceeded(Exception):
    """A call would take the tenant past a plan limit; no LLM request was made."""

    def __init__(self, metric: str, used: Decimal | int, limit: Decimal | int) -> None:
        self.metric = metric
        self.used = used
        self.limit = limit
        super().__init__(f"The plan's {metric.replace('_', ' ')} limit is reached ({used} of {limit}).")


@dataclass(frozen=True)
class Limits:
    """A plan's limits; None means unlimited (a tenant without a plan)."""

    daily_tokens: int | None
    monthly_cost: Decimal | None
    daily_requests: int | None

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> Limits:
        # Read fresh: tenant objects are cached by host, a plan change must apply at once.
        plan = Plan.objects.filter(pk=tenant.plan_id).first() if tenant.plan_id else None
        if plan is None:
            return cls(None, None, None)
        return cls(plan.daily_tokens, plan.monthly_cost, plan.daily_requests)

    def of(self, metric: str) -> Decimal | int | None:
        return getattr(self, metric)


@dataclass(frozen=True)
class Reservation:
    schema_name: str
    agent_slug: str
    day: str
    month: str
    tokens: int
    cost_micros: int
    requests: int = 1


@dataclass(frozen=True)
class _Periods:
    day: str
    month: str
    day_start: datetime
    month_start: datetime

    @classmethod
    def now(cls) -> _Periods:
        now = timezone.now()
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return cls(now.strftime("%Y-%m-%d"), now.strftime("%Y-%m"), day_start, day_start.replace(day=1))


def _keys(schema_name: str, periods: _Periods | Reservation) -> list[str]:
    return [
        redis_clients.key(schema_name, "quota", "tokens", periods.day),
        redis_clients.key(schema_name, "quota", "requests", periods.day),
        redis_clients.key(schema_name, "quota", "cost", periods.month),
    ]


def to_micros(cost: Decimal, rounding: str = ROUND_HALF_UP) -> int:
    return int((cost * MICROS).to_integral_value(rounding=rounding))


def _seed_counters(tenant: Tenant, periods: _Periods) -> None:
    """Rebuild missing counters from the usage rows (new period, or Redis lost them)."""
    client = redis_clients.sync_client()
    keys = _keys(tenant.schema_name, periods)
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.exists(key)
    present = pipe.execute()
    if all(present):
        return
    with tenant_context(tenant):
        today = UsageRecord.objects.filter(created__gte=periods.day_start).aggregate(
            tokens=Coalesce(Sum("tokens_in"), 0) + Coalesce(Sum("tokens_out"), 0),
            requests=Count("id", filter=Q(status=UsageRecord.Status.OK)),
        )
        month_cost = UsageRecord.objects.filter(created__gte=periods.month_start).aggregate(
            cost=Coalesce(Sum("cost"), Decimal("0"))
        )["cost"]
    values = (today["tokens"], today["requests"], to_micros(month_cost))
    ttls = (DAY_KEY_SECONDS, DAY_KEY_SECONDS, MONTH_KEY_SECONDS)
    for key, value, ttl, exists in zip(keys, values, ttls, present, strict=True):
        if not exists:
            # NX: another process may have seeded (and reserved) meanwhile.
            client.set(key, value, nx=True, ex=ttl)


def reserve(tenant: Tenant, *, tokens: int, cost: Decimal, agent_slug: str = "", requests: int = 1) -> Reservation:
    """Hold `tokens`, `cost` and `requests` against the plan, or raise QuotaExceeded.

    Atomic across processes. The caller must `commit` or `release` the reservation.
    """
    periods = _Periods.now()
    limits = Limits.for_tenant(tenant)
    _seed_counters(tenant, periods)
    cost_micros = to_micros(cost, ROUND_CEILING)
    limit_args = [
        -1 if limits.daily_tokens is None else limits.daily_tokens,
        -1 if limits.daily_requests is None else limits.daily_requests,
        -1 if limits.monthly_cost is None else to_micros(limits.monthly_cost),
    ]
    script = redis_clients.sync_client().register_script(_RESERVE_SCRIPT)
    granted, *rest = script(
        keys=_keys(tenant.schema_name, periods),
        args=[tokens, requests, cost_micros, *limit_args, DAY_KEY_SECONDS, MONTH_KEY_SECONDS],
    )
    if not granted:
        index, used_tokens, used_requests, used_cost = rest
        metric = _METRIC_BY_INDEX[index]
        used = {"daily_tokens": used_tokens, "daily_requests": used_requests,
                "monthly_cost": Decimal(used_cost) / MICROS}[metric]
        limit = limits.of(metric)
        logger.warning(
            "quota exceeded: %s at %s of %s, a call needing %s tokens was refused",
            metric, used, limit, tokens,
            extra={"tenant": tenant.schema_name, "agent": agent_slug or "-"},
        )
        _record_alert(tenant, metric, "exceeded", periods, used, limit, agent_slug)
        raise QuotaExceeded(metric, used, limit)
    return Reservation(tenant.schema_name, agent_slug, periods.day, periods.month, tokens, cost_micros, requests)


def commit(tenant: Tenant, reservation: Reservation, *, tokens: int, cost: Decimal) -> None:
    """Replace the reservation's estimate by the real usage and raise alerts it crosses."""
    client = redis_clients.sync_client()
    keys = _keys(reservation.schema_name, reservation)
    pipe = client.pipeline()
    pipe.incrby(keys[0], tokens - reservation.tokens)
    pipe.get(keys[1])
    pipe.incrby(keys[2], to_micros(cost) - reservation.cost_micros)
    used_tokens, used_requests, used_cost = pipe.execute()
    periods = _Periods.now()
    used = {
        "daily_tokens": used_tokens,
        "daily_requests": int(used_requests or 0),
        "monthly_cost": Decimal(used_cost) / MICROS,
    }
    limits = Limits.for_tenant(tenant)
    for metric, value in used.items():
        level = alert_level(value, limits.of(metric))
        if level in ("warning", "critical", "exceeded"):
            _record_alert(tenant, metric, level, periods, value, limits.of(metric), reservation.agent_slug)


def release(reservation: Reservation) -> None:
    """Give back a reservation whose call never produced an answer."""
    keys = _keys(reservation.schema_name, reservation)
    pipe = redis_clients.sync_client().pipeline()
    pipe.decrby(keys[0], reservation.tokens)
    pipe.decrby(keys[1], reservation.requests)
    pipe.decrby(keys[2], reservation.cost_micros)
    pipe.execute()


def alert_level(used: Decimal | int, limit: Decimal | int | None) -> str:
    """ok / warning (≥ 80 %) / critical (≥ 95 %) / exceeded (≥ 100 %); no limit is ok."""
    if limit is None:
        return "ok"
    if limit <= 0:
        return "exceeded"  # a limit of zero means the plan does not offer it
    ratio = Decimal(used) / Decimal(limit)
    if ratio >= 1:
        return "exceeded"
    if ratio >= CRITICAL_RATIO:
        return "critical"
    if ratio >= WARNING_RATIO:
        return "warning"
    return "ok"


def _record_alert(
    tenant: Tenant, metric: str, level: str, periods: _Periods, used: Decimal | int,
    limit: Decimal | int | None, agent_slug: str,
) -> None:
    period = periods.month if metric == "monthly_cost" else periods.day
    mark = redis_clients.key(tenant.schema_name, "quota", "alerted", metric, level, period)
    # The Redis mark keeps this to one database write per alert, not one per call.
    if not redis_clients.sync_client().set(mark, 1, nx=True, ex=ALERT_MARK_SECONDS):
        return
    if level != "exceeded":
        logger.warning(
            "usage %s: %s at %s of %s", level, metric, used, limit,
            extra={"tenant": tenant.schema_name, "agent": agent_slug or "-"},
        )
    with tenant_context(tenant):
        UsageAlert.objects.get_or_create(
            metric=metric, level=level, period=period,
            defaults={"used": Decimal(used), "limit": Decimal(limit or 0), "agent_slug": agent_slug},
        )


def usage_summary(tenant: Tenant) -> dict:
    """Today's tokens and requests and this month's cost against the plan, with alert levels.

    Counts include calls in flight (their reservations).
    """
    periods = _Periods.now()
    with tenant_context(tenant):
        limits = Limits.for_tenant(tenant)
        _seed_counters(tenant, periods)
    raw_tokens, raw_requests, raw_cost = redis_clients.sync_client().mget(_keys(tenant.schema_name, periods))
    used = {
        "daily_tokens": int(raw_tokens or 0),
        "daily_requests": int(raw_requests or 0),
        "monthly_cost": (Decimal(int(raw_cost or 0)) / MICROS).quantize(Decimal("0.000001")),
    }
    levels = {metric: alert_level(used[metric], limits.of(metric)) for metric in METRICS}
    return {
        "day": periods.day,
        "month": periods.month,
        "tokens_today": used["daily_tokens"],
        "requests_today": used["daily_requests"],
        "cost_month": used["monthly_cost"],
        "limits": {metric: limits.of(metric) for metric in METRICS},
        "levels": levels,
        "level": max(levels.values(), key=LEVEL_ORDER.index),
        "resets": {
            "daily": (periods.day_start + timedelta(days=1)).isoformat(),
            "monthly": _next_month(periods.month_start).isoformat(),
        },
    }


def _next_month(month_start: datetime) -> datetime:
    return (month_start + timedelta(days=32)).replace(day=1)
