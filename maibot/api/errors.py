"""Errors an endpoint raises; each carries the machine-readable `error_code` of the envelope."""
from __future__ import annotations

from rest_framework import status as http
from rest_framework.exceptions import APIException


class ApiError(APIException):
    """An error with an envelope code, a message and optional per-field messages."""

    def __init__(
        self, code: str, message: str, status: int = http.HTTP_400_BAD_REQUEST, fields: dict | None = None
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.error_code = code
        self.message = message
        self.fields = fields or {}


def not_found(what: str = "resource") -> ApiError:
    return ApiError("NOT_FOUND", f"No such {what}.", http.HTTP_404_NOT_FOUND)


def conflict(message: str) -> ApiError:
    return ApiError("CONFLICT", message, http.HTTP_409_CONFLICT)


def quota_exceeded(message: str) -> ApiError:
    return ApiError("QUOTA_EXCEEDED", message, http.HTTP_403_FORBIDDEN)


def permission_denied(message: str = "You do not have permission to do this.") -> ApiError:
    return ApiError("PERMISSION_DENIED", message, http.HTTP_403_FORBIDDEN)
