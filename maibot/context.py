"""The isolation context: which tenant, agent, platform and chat stream work is for.

HTTP middleware, WebSocket consumers and Celery tasks set it; the logging filter reads
it so every log line names its tenant and agent. Context variables follow asyncio tasks
and threads started with `contextvars.copy_context()` (asgiref does this for us).
"""
from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Isolation:
    tenant: str | None = None  # tenant schema name
    agent: str | None = None  # agent slug
    platform: str | None = None
    stream: str | None = None  # chat stream id
    request: str | None = None  # request id of an HTTP request


_current: contextvars.ContextVar[Isolation] = contextvars.ContextVar(
    "maibot_isolation", default=Isolation()  # noqa: B039 - frozen, so immutable
)


def current() -> Isolation:
    return _current.get()


def set_isolation(**fields: str | None) -> contextvars.Token[Isolation]:
    """Update the current context with the given fields; returns a token for `reset`."""
    return _current.set(replace(_current.get(), **fields))


def reset(token: contextvars.Token[Isolation]) -> None:
    _current.reset(token)


@contextmanager
def bound(**fields: str | None) -> Iterator[Isolation]:
    """Run a block with the given fields bound, restoring the previous context after."""
    token = set_isolation(**fields)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


class IsolationLogFilter(logging.Filter):
    """Adds `tenant`, `agent`, `platform`, `stream` and `request_id` attributes to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        isolation = _current.get()
        for name in ("tenant", "agent", "platform", "stream"):
            if not hasattr(record, name):
                setattr(record, name, getattr(isolation, name) or "-")
        # Not `request`: Django's own loggers put the request object there.
        if not hasattr(record, "request_id"):
            record.request_id = isolation.request or "-"
        return True
