"""Heartflow: whether the agent should consider speaking at all, and one turn at a time.

Private chats and mentions of the agent are always considered. A mention is an `at`
segment naming the agent's account on that platform, the NapCat adapter's flattened
`@<nick:id>` or quote `[回复<nick:id>：…]` forms with that id, or the agent's name in
the text.

Other group messages go through frequency control, as MaiBot does: each message adds
`talk_frequency × interest` to the stream's willingness; the agent considers speaking
once willingness reaches a threshold, and that threshold rises with every consecutive
turn the planner chose silence (so a bot that keeps declining waits for more before
it looks again), falling back when it speaks. With talk_frequency 0 nothing but a
mention or a private chat gets through.

One turn per stream at a time, across processes: `stream_turn` holds a Redis lock;
messages arriving meanwhile are marked pending and handled together (a burst is one
turn) by whoever holds the lock, which looks again after releasing it.
"""
from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from redis.exceptions import LockError

from chat import redis_clients

# `@<nick:id>` (or `@<id>`), and the quote form `[回复<nick:id>：quoted]` (full-width or ASCII colon).
FLATTENED_AT = re.compile(r"@<(?:(?P<nick>[^<>:]*):)?(?P<id>[^<>:]+)>")
FLATTENED_QUOTE = re.compile(r"\[回复<(?P<nick>[^<>:]*):(?P<id>[^<>]+)>[：:]")
QUESTION = re.compile(r"[?？]|\b(what|why|how|who|when|where)\b|吗|呢|什么|怎么|为什么", re.IGNORECASE)
STATE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Verdict:
    consider: bool
    reason: str  # "private", "mention", "frequency", "below_threshold", "silent_agent"
    mentioned: bool = False
    willingness: float = 0.0
    threshold: float = 0.0


def _segments(node: Any) -> Iterable[dict]:
    """Every leaf segment of a stored message_segment (seglist nests recursively)."""
    if isinstance(node, list):
        for item in node:
            yield from _segments(item)
    elif isinstance(node, dict):
        if node.get("type") == "seglist":
            yield from _segments(node.get("data"))
        else:
            yield node


def _at_target(data: Any) -> str:
    if isinstance(data, dict):
        for name in ("user_id", "qq", "id", "target"):
            if data.get(name) is not None:
                return str(data[name])
        return ""
    text = str(data or "")
    # Adapters send either the bare id or "nick:id".
    return text.rsplit(":", 1)[-1].strip()


def mentions_agent(text: str, segments: Any, *, account_id: str | None, names: Iterable[str]) -> bool:
    """True when the message addresses the agent (see the module docstring)."""
    if account_id:
        for segment in _segments(segments):
            if segment.get("type") == "at" and _at_target(segment.get("data")) == account_id:
                return True
        for pattern in (FLATTENED_AT, FLATTENED_QUOTE):
            if any(match.group("id").strip() == account_id for match in pattern.finditer(text or "")):
                return True
    lowered = (text or "").casefold()
    return any(name and name.casefold() in lowered for name in names)


def interest(text: str) -> float:
    """How much a message invites an answer: questions and longer messages more."""
    score = 1.0
    if QUESTION.search(text or ""):
        score += 0.5
    if len(text or "") >= 30:
        score += 0.25
    return score


def threshold_after(silent_turns: int) -> float:
    capped = min(silent_turns, settings.HEARTFLOW_MAX_SILENT_TURNS)
    return settings.HEARTFLOW_BASE_THRESHOLD * (1 + settings.HEARTFLOW_THRESHOLD_RISE * capped)


def _state_key(schema_name: str, stream_id: str) -> str:
    return redis_clients.key(schema_name, "heartflow", stream_id)


async def judge(
    schema_name: str,
    stream_id: str,
    *,
    private: bool,
    mentioned: bool,
    texts: list[str],
    talk_frequency: float,
) -> Verdict:
    """Decide whether this turn's messages are worth considering; updates willingness.

    Call while holding the stream's turn (`stream_turn`).
    """
    if private:
        return Verdict(True, "private", mentioned=mentioned)
    if mentioned:
        return Verdict(True, "mention", mentioned=True)
    if talk_frequency <= 0:
        return Verdict(False, "silent_agent")
    client = redis_clients.async_client()
    key = _state_key(schema_name, stream_id)
    willingness_raw, silent_raw = await client.hmget(key, ["willingness", "silent_turns"])
    silent_turns = int(silent_raw or 0)
    willingness = float(willingness_raw or 0) + talk_frequency * sum(interest(text) for text in texts)
    threshold = threshold_after(silent_turns)
    if willingness >= threshold:
        await client.hset(key, "willingness", 0)
        await client.expire(key, STATE_SECONDS)
        return Verdict(True, "frequency", willingness=willingness, threshold=threshold)
    await client.hset(key, "willingness", willingness)
    await client.expire(key, STATE_SECONDS)
    return Verdict(False, "below_threshold", willingness=willingness, threshold=threshold)


async def after_turn(schema_name: str, stream_id: str, *, spoke: bool) -> None:
    """Silence raises the next threshold; speaking brings it back down."""
    client = redis_clients.async_client()
    key = _state_key(schema_name, stream_id)
    if spoke:
        await client.hset(key, "silent_turns", 0)
    else:
        await client.hincrby(key, "silent_turns", 1)
    await client.expire(key, STATE_SECONDS)


async def silent_turns(schema_name: str, stream_id: str) -> int:
    return int(await redis_clients.async_client().hget(_state_key(schema_name, stream_id), "silent_turns") or 0)


# -- one turn per stream ------------------------------------------------------------------


def _lock_key(schema_name: str, stream_id: str) -> str:
    return redis_clients.key(schema_name, "turn", stream_id)


def _pending_key(schema_name: str, stream_id: str) -> str:
    return redis_clients.key(schema_name, "pending", stream_id)


async def mark_pending(schema_name: str, stream_id: str, message_pk: int) -> None:
    """Remember that a message waits; whoever holds the turn will include it."""
    await redis_clients.async_client().set(
        _pending_key(schema_name, stream_id), message_pk, ex=settings.CHAT_TURN_LOCK_SECONDS
    )


async def take_pending(schema_name: str, stream_id: str) -> bool:
    return await redis_clients.async_client().delete(_pending_key(schema_name, stream_id)) > 0


async def has_pending(schema_name: str, stream_id: str) -> bool:
    return await redis_clients.async_client().exists(_pending_key(schema_name, stream_id)) > 0


@asynccontextmanager
async def stream_turn(schema_name: str, stream_id: str, *, wait: float = 0.0) -> AsyncIterator[bool]:
    """Take the stream's turn, waiting up to `wait` seconds; yields whether it was taken.

    The lock expires after CHAT_TURN_LOCK_SECONDS so a crashed process cannot silence
    a stream for good.
    """
    lock = redis_clients.async_client().lock(
        _lock_key(schema_name, stream_id), timeout=settings.CHAT_TURN_LOCK_SECONDS,
        blocking=wait > 0, blocking_timeout=wait or None, sleep=0.02,
    )
    taken = await lock.acquire()
    try:
        yield taken
    finally:
        if taken:
            try:
                await lock.release()
            except LockError:  # expired meanwhile; nothing left to release
                pass


async def last_handled(schema_name: str, stream_id: str) -> int | None:
    value = await redis_clients.async_client().hget(_state_key(schema_name, stream_id), "last_pk")
    return int(value) if value is not None else None


async def set_last_handled(schema_name: str, stream_id: str, message_pk: int) -> None:
    client = redis_clients.async_client()
    key = _state_key(schema_name, stream_id)
    await client.hset(key, "last_pk", message_pk)
    await client.expire(key, STATE_SECONDS)
