"""What a caller may do: API keys by scope, dashboard members by role."""
from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from tenants.apikeys import KeyIdentity

ROLE_RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}


def method_of(request: Request) -> str:
    return "GET" if request.method in ("HEAD", "OPTIONS") else request.method


def role_needed(view: APIView, method: str) -> str:
    roles = getattr(view, "required_roles", {}) or {}
    return roles.get(method, "viewer" if method in SAFE_METHODS else "member")


def has_role(request: Request, role: str) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and ROLE_RANK[membership.role] >= ROLE_RANK[role]


class ScopedPermission(BasePermission):
    """Views declare `required_scopes` and `required_roles` per HTTP method.

    A method without a scope is closed to API keys (only dashboard members may use it).
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        if getattr(request, "api_tenant", None) is None:
            if request.auth is None and not request.user.is_authenticated:
                raise exceptions.NotAuthenticated("Sign in or send an API key.")
            raise exceptions.NotFound()
        method = method_of(request)
        if isinstance(request.auth, KeyIdentity):
            scope = (getattr(view, "required_scopes", {}) or {}).get(method)
            if scope is None or not request.auth.has_scope(scope):
                needed = scope or "a dashboard session"
                raise exceptions.PermissionDenied(f"This API key lacks the scope this needs: {needed}.")
            return True
        role = role_needed(view, method)
        if not has_role(request, role):
            raise exceptions.PermissionDenied(f"This needs the {role} role or higher.")
        return True
