"""Base view for tenant endpoints: authentication, scopes and roles, throttling, paging."""
from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from agents.audit import Actor
from maibot.api.access import actor_of
from maibot.api.authentication import ApiKeyAuthentication, TenantSessionAuthentication
from maibot.api.errors import ApiError
from maibot.api.pagination import EnvelopePagination
from maibot.api.permissions import ScopedPermission
from maibot.api.throttling import KeyAndTenantThrottle


class TenantAPIView(APIView):
    authentication_classes = [ApiKeyAuthentication, TenantSessionAuthentication]
    permission_classes = [ScopedPermission]
    throttle_classes = [KeyAndTenantThrottle]
    required_scopes: dict[str, str] = {}
    required_roles: dict[str, str] = {}

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        super().initial(request, *args, **kwargs)
        # PostgreSQL text cannot hold NUL: refuse it in filters here rather than fail in the
        # database. Bodies are checked field by field by each endpoint's validation.
        if _has_nul(dict(request.query_params.lists())):
            bad = sorted(name for name, values in request.query_params.lists() if _has_nul([name, *values]))
            raise ApiError("VALIDATION_ERROR", "Text may not contain NUL characters.", fields={name: ["Remove the NUL characters."] for name in bad})

    def actor(self) -> Actor:
        return actor_of(self.request)

    def paginate(self, items: QuerySet | list, serializer_class: type[BaseSerializer], **context: object) -> Response:
        paginator = EnvelopePagination()
        page = paginator.paginate_queryset(items, self.request, view=self)
        data = serializer_class(page, many=True, context={"request": self.request, **context}).data
        return paginator.get_paginated_response(data)


def _has_nul(value: object, depth: int = 0) -> bool:
    if depth > 32:
        return False
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k, depth + 1) or _has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(item, depth + 1) for item in value)
    return False


def parse_bool(request: Request, name: str) -> bool | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    return value.lower() in ("1", "true", "yes", "on")
