"""Access to the tenant dashboard: the one way a page learns who is asking and what they may do.

A page of another tenant, or of a tenant the user is not a member of, answers 404: its
existence is not revealed. A member below the page's role gets 403.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse

from agents.audit import Actor
from tenants.models import Membership

ROLE_RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}
# The navigation section a path belongs to, by its first segment.
SECTIONS = {"": "overview", "agents": "agents", "chats": "chats", "memory": "memory", "llm": "llm",
            "usage": "usage", "members": "members", "audit": "audit"}


def tenant_of(request: HttpRequest):  # noqa: ANN201 - Tenant or None
    tenant = getattr(request, "tenant", None)
    return None if tenant is None or tenant.schema_name == "public" else tenant


def membership_of(request: HttpRequest) -> Membership | None:
    tenant = tenant_of(request)
    user = getattr(request, "user", None)  # absent on pages answered before authentication
    if tenant is None or user is None or not user.is_authenticated:
        return None
    if not hasattr(request, "_membership"):
        request._membership = Membership.objects.filter(user=user, tenant=tenant).first()
    return request._membership


def member_required(role: str = "viewer") -> Callable:
    """Decorate a tenant-host view: signed in, a member of this tenant, at least `role`."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if tenant_of(request) is None:
                raise Http404("No organisation here.")
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = membership_of(request)
            if membership is None:
                raise Http404("No such page.")
            if ROLE_RANK[membership.role] < ROLE_RANK[role]:
                raise PermissionDenied(f"This needs the {role} role.")
            request.membership = membership
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def actor_of(request: HttpRequest) -> Actor:
    return Actor(f"user:{request.user.get_username()}", getattr(request, "request_id", ""))


def show_errors(form: Form, error: ValidationError) -> None:
    """Put a service's field errors next to the form's fields (others on the form)."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


def error_messages(error: ValidationError) -> list[str]:
    """A service's ValidationError as sentences for a flash message, fields named."""
    if hasattr(error, "error_dict"):
        return [message if field == "__all__" else f"{field}: {message}"
                for field, messages in error.message_dict.items() for message in messages]
    return list(error.messages)


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """Template context: which tenant and role the page is shown in, and what it may offer."""
    membership = membership_of(request)
    rank = ROLE_RANK[membership.role] if membership else -1
    return {
        "current_tenant": tenant_of(request),
        "membership": membership,
        "can_operate": rank >= ROLE_RANK["member"],
        "can_manage": rank >= ROLE_RANK["admin"],
        "is_owner": rank >= ROLE_RANK["owner"],
        "section": SECTIONS.get(request.path.strip("/").split("/")[0], ""),
    }
