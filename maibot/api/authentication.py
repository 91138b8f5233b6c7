"""Who is calling: an agent API key, or a dashboard session of a tenant member.

The tenant comes from the key or from the host, never from the request body. A key used
on another tenant's host answers 404, as does a signed-in user who is not a member.
"""
from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.request import Request

from maibot import context
from tenants.apikeys import ApiKeyRejected, KeyIdentity, authenticate_api_key
from tenants.models import Membership, Tenant


def presented_key(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("X-API-Key") or None


def host_tenant(request: Request) -> Tenant | None:
    tenant = getattr(request._request, "tenant", None)
    if tenant is None or tenant.schema_name == "public":
        return None
    return tenant


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[AnonymousUser, KeyIdentity] | None:
        raw = presented_key(request)
        if raw is None:
            return None
        try:
            identity = authenticate_api_key(raw)
        except ApiKeyRejected as rejected:
            raise exceptions.AuthenticationFailed(rejected.message, code=rejected.code) from None
        on_host = host_tenant(request)
        if on_host is not None and on_host.pk != identity.tenant.pk:
            raise exceptions.NotFound()
        if on_host is None:
            # A key on the public host: the key alone picks the tenant's schema.
            connection.set_tenant(identity.tenant)
        request.api_tenant = identity.tenant
        context.set_isolation(tenant=identity.tenant.schema_name, agent=identity.agent_slug)
        return AnonymousUser(), identity

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class TenantSessionAuthentication(SessionAuthentication):
    """The dashboard's session, valid only on the host of a tenant the user belongs to."""

    def authenticate(self, request: Request) -> tuple[object, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        tenant = host_tenant(request)
        if tenant is None:
            return None
        membership = Membership.objects.filter(user=result[0], tenant=tenant).first()
        if membership is None:
            raise exceptions.NotFound()
        request.membership = membership
        request.api_tenant = tenant
        return result

from maibot.api import schema as _schema  # noqa: E402,F401 - registers the OpenAPI descriptions
