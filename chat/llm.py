"""The one LLM client: OpenAI-compatible chat completions and embeddings over HTTP.

`complete(task, …)` asks the task's model list (`agents.llm_routes.routes_for_task`) in
order: each model gets its provider's timeout and retries (both capped by settings),
and a model that keeps failing hands over to the next. Before any request the tenant's
plan quota is reserved for the estimated usage (`chat.quotas`); the real usage is
committed after, and every attempt writes a `UsageRecord` with its cost from the
model's prices. Streaming (`on_delta`) falls back only while nothing has been emitted:
half a reply from one model followed by another model's reply would read as nonsense.

Sync, and must run inside the tenant's schema (`tenant_context`); async callers wrap
the call in `database_sync_to_async`.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name

from chat import quotas
from chat.models import UsageRecord
from chat.quotas import QuotaExceeded

if TYPE_CHECKING:
    from agents.llm_routes import ModelRoute
    from agents.models import Agent

__all__ = [
    "Completion", "LLMUnavailable", "QuotaExceeded", "complete", "complete_with_routes", "embed", "embed_with_routes",
    "estimate_tokens",
]

logger = logging.getLogger(__name__)

Message = dict[str, Any]
PER_MESSAGE_TOKENS = 4  # role and separators around each message
COST_PLACES = Decimal("0.00000001")
ERROR_CHARS = 300


class LLMUnavailable(Exception):
    """No model of the task's list produced an answer."""


@dataclass(frozen=True)
class Completion:
    text: str
    model_name: str
    tokens_in: int
    tokens_out: int
    cost: Decimal
    latency_ms: int


class _AttemptFailed(Exception):
    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class _StreamBroken(Exception):
    """The stream failed after text was already handed to `on_delta`."""


@dataclass
class _Answer:
    text: str
    tokens_in: int | None
    tokens_out: int | None


_http_client: httpx.Client | None = None
_http_lock = threading.Lock()


def _http() -> httpx.Client:
    global _http_client
    with _http_lock:
        if _http_client is None:
            limits = httpx.Limits(
                max_connections=settings.LLM_HTTP_MAX_CONNECTIONS,
                max_keepalive_connections=settings.LLM_HTTP_MAX_CONNECTIONS,
            )
            _http_client = httpx.Client(limits=limits, follow_redirects=False)
        return _http_client


# -- estimates and prices ----------------------------------------------------------------


def estimate_tokens(text: str) -> int:
    """A cautious token count for reservations (overestimating only delays a refusal)."""
    return math.ceil(len(text) / settings.QUOTA_CHARS_PER_TOKEN)


def _prompt_tokens(messages: Sequence[Message]) -> int:
    return sum(estimate_tokens(str(m.get("content") or "")) + PER_MESSAGE_TOKENS for m in messages)


def cost_of(route: ModelRoute, tokens_in: int, tokens_out: int) -> Decimal:
    """Prices are per million tokens."""
    cost = (Decimal(tokens_in) * route.price_in + Decimal(tokens_out) * route.price_out) / Decimal(1_000_000)
    return cost.quantize(COST_PLACES)


def _routes(task: str, agent: Agent | None, platform: str | None) -> list[ModelRoute]:
    from agents.llm_routes import routes_for_task

    return routes_for_task(task, agent, platform)


def _tenant():
    if connection.schema_name == get_public_schema_name():
        raise RuntimeError("The LLM client must be called inside a tenant's schema (tenant_context).")
    return connection.tenant


# -- chat completions ---------------------------------------------------------------------


def complete(
    task: str,
    messages: Sequence[Message],
    *,
    agent: Agent | None,
    platform: str | None = None,
    stream_id: str | None = None,
    max_tokens: int | None = None,
    on_delta: Callable[[str], None] | None = None,
) -> Completion:
    """Answer `messages` with the task's models; raises QuotaExceeded or LLMUnavailable."""
    return complete_with_routes(
        _routes(task, agent, platform), task, messages, agent=agent, platform=platform, stream_id=stream_id,
        max_tokens=max_tokens, on_delta=on_delta,
    )


def complete_with_routes(
    routes: Sequence[ModelRoute],
    task: str,
    messages: Sequence[Message],
    *,
    agent: Agent | None,
    platform: str | None = None,
    stream_id: str | None = None,
    max_tokens: int | None = None,
    on_delta: Callable[[str], None] | None = None,
) -> Completion:
    """`complete` with the models given explicitly (e.g. to try one model from the dashboard)."""
    tenant = _tenant()
    agent_slug = agent.slug if agent is not None else ""
    record = _recorder(agent, platform or "", stream_id or "", task)
    if not routes:
        record("", status=UsageRecord.Status.ERROR, error=f"no model configured for task {task}")
        raise LLMUnavailable(f"No model is configured for the {task!r} task.")

    caps = [_reply_cap(route, max_tokens) for route in routes]
    prompt_tokens = _prompt_tokens(messages)
    estimate_cost = max(cost_of(route, prompt_tokens, cap) for route, cap in zip(routes, caps, strict=True))
    try:
        reservation = quotas.reserve(
            tenant, tokens=prompt_tokens + max(caps), cost=estimate_cost, agent_slug=agent_slug
        )
    except QuotaExceeded as exc:
        record("", status=UsageRecord.Status.QUOTA_EXCEEDED, error=str(exc))
        raise

    started = time.monotonic()
    failures: list[str] = []
    try:
        for route, cap in zip(routes, caps, strict=True):
            body: dict[str, Any] = {"model": route.identifier, "messages": list(messages), "max_tokens": cap}
            if route.temperature is not None:
                body["temperature"] = route.temperature
            attempt_started = time.monotonic()
            try:
                answer = _with_retries(route, lambda r=route, b=body: _chat_once(r, b, on_delta))
            except _AttemptFailed as exc:
                failures.append(f"{route.model_name}: {exc}")
                record(route.model_name, status=UsageRecord.Status.ERROR, error=str(exc),
                       latency_ms=_ms_since(attempt_started))
                logger.warning("model %s failed for task %s: %s", route.model_name, task, exc)
                continue
            except _StreamBroken as exc:
                record(route.model_name, status=UsageRecord.Status.ERROR, error=str(exc),
                       latency_ms=_ms_since(attempt_started))
                logger.warning("model %s broke off a streamed reply for task %s: %s", route.model_name, task, exc)
                raise LLMUnavailable(f"The reply stream from {route.model_name} broke off: {exc}") from exc
            tokens_in = answer.tokens_in if answer.tokens_in is not None else prompt_tokens
            tokens_out = answer.tokens_out if answer.tokens_out is not None else estimate_tokens(answer.text)
            cost = cost_of(route, tokens_in, tokens_out)
            record(route.model_name, tokens_in=tokens_in, tokens_out=tokens_out, cost=cost,
                   latency_ms=_ms_since(attempt_started))
            quotas.commit(tenant, reservation, tokens=tokens_in + tokens_out, cost=cost)
            reservation = None
            return Completion(answer.text, route.model_name, tokens_in, tokens_out, cost, _ms_since(started))
    finally:
        if reservation is not None:
            quotas.release(reservation)
    raise LLMUnavailable(f"Every model for the {task!r} task failed: " + "; ".join(failures))


def _reply_cap(route: ModelRoute, max_tokens: int | None) -> int:
    return max_tokens or route.max_tokens or settings.LLM_DEFAULT_MAX_TOKENS


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _recorder(agent: Agent | None, platform: str, stream_id: str, task: str) -> Callable[..., None]:
    def record(model_name: str, *, status: str = UsageRecord.Status.OK, error: str = "", tokens_in: int = 0,
               tokens_out: int = 0, cost: Decimal = Decimal("0"), latency_ms: int = 0) -> None:
        UsageRecord.objects.create(
            agent=agent, platform=platform, stream_id=stream_id, task=task, model_name=model_name,
            tokens_in=tokens_in, tokens_out=tokens_out, cost=cost, latency_ms=latency_ms, status=status,
            error=error[:ERROR_CHARS],
        )

    return record


def _with_retries(route: ModelRoute, call: Callable[[], _Answer]) -> _Answer:
    """Try one model up to 1 + max_retries times, backing off between tries."""
    attempts = 1 + max(0, min(route.max_retries, settings.LLM_MAX_RETRIES))
    for attempt in range(attempts):
        try:
            return call()
        except _AttemptFailed as exc:
            if not exc.retryable or attempt == attempts - 1:
                raise
            backoff = settings.LLM_RETRY_BACKOFF_SECONDS * (2**attempt)
            if exc.retry_after is not None:
                backoff = max(backoff, exc.retry_after)
            time.sleep(min(backoff, settings.LLM_RETRY_BACKOFF_MAX_SECONDS))
    raise AssertionError("unreachable")


def _timeout(route: ModelRoute) -> httpx.Timeout:
    return httpx.Timeout(min(route.timeout, settings.LLM_MAX_TIMEOUT_SECONDS))


def _headers(route: ModelRoute) -> dict[str, str]:
    return {"Authorization": f"Bearer {route.api_key}"} if route.api_key else {}


def _url(route: ModelRoute, path: str) -> str:
    return route.base_url.rstrip("/") + path


def _failure_from_status(response: httpx.Response) -> _AttemptFailed:
    try:
        detail = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        detail = response.text[:200]
    retry_after = None
    if response.headers.get("retry-after", "").isdigit():
        retry_after = float(response.headers["retry-after"])
    retryable = response.status_code == 429 or response.status_code >= 500
    return _AttemptFailed(f"HTTP {response.status_code}: {detail}", retryable=retryable, retry_after=retry_after)


def _chat_once(route: ModelRoute, body: dict[str, Any], on_delta: Callable[[str], None] | None) -> _Answer:
    try:
        if on_delta is None:
            return _chat_plain(route, body)
        return _chat_streamed(route, body, on_delta)
    except httpx.TimeoutException as exc:
        raise _AttemptFailed(f"timed out ({type(exc).__name__})", retryable=True) from exc
    except httpx.TransportError as exc:
        raise _AttemptFailed(f"connection failed ({type(exc).__name__})", retryable=True) from exc


def _chat_plain(route: ModelRoute, body: dict[str, Any]) -> _Answer:
    response = _http().post(_url(route, "/chat/completions"), json=body, headers=_headers(route),
                            timeout=_timeout(route))
    if response.status_code != 200:
        raise _failure_from_status(response)
    try:
        payload = response.json()
        text = payload["choices"][0]["message"]["content"]
        if not isinstance(text, str):
            raise TypeError("content is not text")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _AttemptFailed(f"unreadable answer ({exc})", retryable=False) from exc
    usage = payload.get("usage") or {}
    return _Answer(text[: settings.LLM_MAX_RESPONSE_CHARS], _int_or_none(usage.get("prompt_tokens")),
                   _int_or_none(usage.get("completion_tokens")))


def _chat_streamed(route: ModelRoute, body: dict[str, Any], on_delta: Callable[[str], None]) -> _Answer:
    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    parts: list[str] = []
    length = 0
    usage: dict[str, Any] = {}
    with _http().stream("POST", _url(route, "/chat/completions"), json=body, headers=_headers(route),
                        timeout=_timeout(route)) as response:
        if response.status_code != 200:
            response.read()
            raise _failure_from_status(response)
        try:
            for data in _sse_data(response.iter_lines()):
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content")
                    if not delta or length >= settings.LLM_MAX_RESPONSE_CHARS:
                        continue
                    delta = delta[: settings.LLM_MAX_RESPONSE_CHARS - length]
                    parts.append(delta)
                    length += len(delta)
                    on_delta(delta)
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            if parts:
                raise _StreamBroken(f"{type(exc).__name__}: {exc}") from exc
            if isinstance(exc, httpx.HTTPError):
                raise
            raise _AttemptFailed(f"unreadable stream ({exc})", retryable=False) from exc
    return _Answer("".join(parts), _int_or_none(usage.get("prompt_tokens")),
                   _int_or_none(usage.get("completion_tokens")))


def _sse_data(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        if line.startswith("data:"):
            yield line[5:].strip()


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


# -- embeddings ----------------------------------------------------------------------------


def embed(texts: Sequence[str], *, agent: Agent | None = None, dimensions: int | None = None) -> list[list[float]]:
    """Vectors for `texts` from the tenant's `embedding` task list, in order.

    All vectors of one call come from the same model (mixing models would make them
    incomparable), so a model failing part-way hands the whole call to the next one.
    """
    return embed_with_routes(_routes("embedding", agent, None), texts, agent=agent, dimensions=dimensions)


def embed_with_routes(
    routes: Sequence[ModelRoute], texts: Sequence[str], *, agent: Agent | None = None, dimensions: int | None = None
) -> list[list[float]]:
    """`embed` with the models given explicitly."""
    texts = list(texts)
    if not texts:
        return []
    tenant = _tenant()
    record = _recorder(agent, "", "", "embedding")
    if not routes:
        record("", status=UsageRecord.Status.ERROR, error="no model configured for task embedding")
        raise LLMUnavailable("No model is configured for the 'embedding' task.")
    tokens = sum(estimate_tokens(text) for text in texts)
    try:
        reservation = quotas.reserve(
            tenant, tokens=tokens, cost=max(cost_of(route, tokens, 0) for route in routes),
            agent_slug=agent.slug if agent is not None else "",
        )
    except QuotaExceeded as exc:
        record("", status=UsageRecord.Status.QUOTA_EXCEEDED, error=str(exc))
        raise
    failures: list[str] = []
    try:
        for route in routes:
            started = time.monotonic()
            vectors: list[list[float]] = []
            used = 0
            try:
                for first in range(0, len(texts), settings.LLM_EMBED_BATCH_SIZE):
                    batch = texts[first: first + settings.LLM_EMBED_BATCH_SIZE]
                    batch_vectors, batch_tokens = _with_retries(
                        route, lambda r=route, b=batch: _embed_once(r, b, dimensions)
                    )
                    vectors.extend(batch_vectors)
                    used += batch_tokens if batch_tokens is not None else sum(map(estimate_tokens, batch))
            except _AttemptFailed as exc:
                failures.append(f"{route.model_name}: {exc}")
                record(route.model_name, status=UsageRecord.Status.ERROR, error=str(exc),
                       latency_ms=_ms_since(started))
                logger.warning("embedding model %s failed: %s", route.model_name, exc)
                continue
            cost = cost_of(route, used, 0)
            record(route.model_name, tokens_in=used, cost=cost, latency_ms=_ms_since(started))
            quotas.commit(tenant, reservation, tokens=used, cost=cost)
            reservation = None
            return vectors
    finally:
        if reservation is not None:
            quotas.release(reservation)
    raise LLMUnavailable("Every embedding model failed: " + "; ".join(failures))


def _embed_once(route: ModelRoute, batch: list[str], dimensions: int | None):  # -> (vectors, tokens)
    body: dict[str, Any] = {"model": route.identifier, "input": batch}
    if dimensions:
        body["dimensions"] = dimensions
    try:
        response = _http().post(_url(route, "/embeddings"), json=body, headers=_headers(route),
                                timeout=_timeout(route))
    except httpx.TimeoutException as exc:
        raise _AttemptFailed(f"timed out ({type(exc).__name__})", retryable=True) from exc
    except httpx.TransportError as exc:
        raise _AttemptFailed(f"connection failed ({type(exc).__name__})", retryable=True) from exc
    if response.status_code != 200:
        raise _failure_from_status(response)
    try:
        payload = response.json()
        rows = sorted(payload["data"], key=lambda row: row["index"])
        vectors = [[float(x) for x in row["embedding"]] for row in rows]
        if len(vectors) != len(batch):
            raise ValueError(f"{len(vectors)} vectors for {len(batch)} texts")
    except (ValueError, KeyError, TypeError) as exc:
        raise _AttemptFailed(f"unreadable answer ({exc})", retryable=False) from exc
    return vectors, _int_or_none((payload.get("usage") or {}).get("prompt_tokens"))
