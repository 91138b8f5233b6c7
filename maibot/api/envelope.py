"""The response envelope: `{success, message, data, timestamp, request_id, tenant_id,
execution_time}`, plus `error_code`, `error` and `errors` on failures."""
from __future__ import annotations

import logging
import time
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from maibot import errors as domain
from maibot.api.errors import ApiError, conflict, quota_exceeded

logger = logging.getLogger("maibot.api")

_CODES: list[tuple[type[Exception], str]] = [
    (exceptions.ParseError, "MALFORMED_REQUEST"),
    (exceptions.ValidationError, "VALIDATION_ERROR"),
    (exceptions.NotAuthenticated, "AUTHENTICATION_FAILED"),
    (exceptions.AuthenticationFailed, "AUTHENTICATION_FAILED"),
    (exceptions.PermissionDenied, "PERMISSION_DENIED"),
    (exceptions.NotFound, "NOT_FOUND"),
    (exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (exceptions.NotAcceptable, "NOT_ACCEPTABLE"),
    (exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (exceptions.Throttled, "RATE_LIMITED"),
]

_MESSAGES = {
    "VALIDATION_ERROR": "The request has invalid fields.",
    "NOT_FOUND": "No such resource.",
}


def _field_errors(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(field): [str(item) for item in (value if isinstance(value, list) else [value])]
            for field, value in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(item) for item in detail]}
    return {}


def _from_django(exc: Exception) -> Exception:
    if isinstance(exc, domain.LimitReached):
        return quota_exceeded(str(exc))
    if isinstance(exc, domain.Conflict):
        return conflict(str(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError({f: [m for e in errs for m in e.messages] for f, errs in exc.error_dict.items()})
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    return exc


def handle_exception(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every failure becomes an error envelope with a code."""
    exc = _from_django(exc)
    if isinstance(exc, ApiError):
        code, message, fields = exc.error_code, exc.message, exc.fields
    elif isinstance(exc, exceptions.APIException):
        code = next((name for cls, name in _CODES if isinstance(exc, cls)), "ERROR")
        fields = _field_errors(exc.detail) if isinstance(exc, exceptions.ValidationError) else {}
        message = _MESSAGES.get(code) or (str(exc.detail) if not isinstance(exc.detail, (dict, list)) else code)
    else:
        return None  # a bug: let Django log it and answer 500
    headers = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
    request = context.get("request")
    logger.info("%s %s -> %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"), exc.status_code, code)
    body = {"error_code": code, "message": message, "error": message, "errors": fields}
    return Response(body, status=exc.status_code, headers=headers)


class EnvelopeRenderer(JSONRenderer):
    """Wraps every API body in the envelope, on success and on error alike."""

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        renderer_context = renderer_context or {}
        response = renderer_context.get("response")
        request = renderer_context.get("request")
        if response is None or request is None or getattr(response, "skip_envelope", False):
            return super().render(data, accepted_media_type, renderer_context)
        ok = response.status_code < 400
        envelope: dict[str, Any] = {
            "success": ok,
            "message": getattr(response, "message", "") or ("OK" if ok else ""),
            "data": data if ok else None,
            "timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
            "request_id": getattr(request, "request_id", None),
            "tenant_id": _tenant_id(request),
            "execution_time": round(time.monotonic() - getattr(request, "started_at", time.monotonic()), 4),
        }
        if not ok and isinstance(data, dict):
            envelope.update(data)
        return super().render(envelope, accepted_media_type, renderer_context)


def _tenant_id(request: Any) -> str | None:
    tenant = getattr(request, "api_tenant", None) or getattr(request, "tenant", None)
    slug = getattr(tenant, "slug", None)
    return slug or None
