from __future__ import annotations

import logging

from django.http import HttpResponse
from django.test import RequestFactory

from maibot import context
from maibot.context import IsolationLogFilter
from tenants.middleware import TenantHostMiddleware


def _record(message: str) -> logging.LogRecord:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, message, None, None)
    IsolationLogFilter().filter(record)
    return record


def test_log_records_carry_the_bound_tenant_and_agent():
    with context.bound(tenant="t_alpha", agent="mai", platform="qq"):
        record = _record("inside")
    outside = _record("outside")

    assert (record.tenant, record.agent, record.platform) == ("t_alpha", "mai", "qq")
    assert (outside.tenant, outside.agent) == ("-", "-")


def test_the_host_middleware_binds_the_requests_tenant(tenant_a, host_a):
    seen: list[context.Isolation] = []

    def view(request):
        seen.append(context.current())
        return HttpResponse("ok")

    request = RequestFactory().get("/", HTTP_HOST=host_a)
    token = context.set_isolation()
    try:
        TenantHostMiddleware(view)(request)
    finally:
        context.reset(token)

    assert seen[0].tenant == tenant_a.schema_name
