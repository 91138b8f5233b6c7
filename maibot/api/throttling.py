"""Rate limits per API key and per tenant: fixed one-window counters in Redis."""
from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from tenants.apikeys import KeyIdentity


class KeyAndTenantThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        window = settings.API_RATE_WINDOW_SECONDS
        now = time.time()
        bucket = int(now // window)
        limits = []
        if isinstance(request.auth, KeyIdentity):
            limits.append((f"key:{request.auth.key_id}", settings.API_RATE_LIMIT_PER_KEY))
        tenant = getattr(request, "api_tenant", None)
        if tenant is not None:
            limits.append((f"tenant:{tenant.pk}", settings.API_RATE_LIMIT_PER_TENANT))
        for name, limit in limits:
            key = f"ratelimit:{name}:{bucket}"
            cache.add(key, 0, timeout=window + 1)  # atomic: only the first caller sets it
            if cache.incr(key) > limit:
                self._wait = window - (now % window)
                return False
        return True

    def wait(self) -> float | None:
        return self._wait
