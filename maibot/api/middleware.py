"""Give every request an id: taken from `X-Request-ID` when sane, else generated."""
from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from maibot import context

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if _SANE_ID.match(given) else f"req_{secrets.token_hex(6)}"
        request.started_at = time.monotonic()
        with context.bound(request=request.request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response
