"""Resolve the tenant from the request's host, with the lookup cached."""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import schema_context

from maibot import context
from tenants.models import Domain, Tenant
from tenants.services import host_cache_key

_MISSING = "missing"


class TenantHostMiddleware(TenantMainMiddleware):
    """`<slug>.<BASE_DOMAIN>` selects a tenant; PUBLIC_HOSTS serve the control plane.

    Unknown hosts answer 404; a suspended tenant's host answers a 403 page.
    """

    def get_tenant(self, domain_model: type[Domain], hostname: str) -> Tenant:
        key = host_cache_key(hostname)
        with schema_context("public"):
            cached = cache.get(key)
            if cached == _MISSING:
                raise domain_model.DoesNotExist
            if cached is None:
                try:
                    cached = super().get_tenant(domain_model, hostname)
                except domain_model.DoesNotExist:
                    cache.set(key, _MISSING, settings.TENANT_HOST_CACHE_SECONDS)
                    raise
                cache.set(key, cached, settings.TENANT_HOST_CACHE_SECONDS)
        return cached

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        hostname = self.hostname_from_request(request)
        if hostname in settings.PUBLIC_HOSTS:
            connection.set_schema_to_public()
            request.tenant = connection.tenant
            self.setup_url_routing(request, force_public=True)
            context.set_isolation(tenant=None, agent=None, platform=None, stream=None)
            return None
        response = super().process_request(request)
        if response is not None:
            return response
        tenant: Tenant = request.tenant
        if not tenant.is_active:
            return render(request, "tenants/suspended.html", {"tenant": tenant}, status=403)
        context.set_isolation(tenant=tenant.schema_name, agent=None, platform=None, stream=None)
        return None

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        raise Http404(f"No organisation at {hostname}")
