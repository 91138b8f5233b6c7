"""Sending policy: whether the agent may answer now, and the reply's shape.

Checked before any reply is written (so a refused turn costs no LLM call):
blocked users and groups, quiet hours in the tenant's timezone, and a per-stream rate
limit (`stream_replies_per_minute`, a sliding minute in Redis shared by all processes).
After the reply is written, `fit_length` applies `max_reply_length`: with
`reply_overflow = "split"` (the default) the text is cut at sentence or word
boundaries into at most `max_reply_parts` messages, each within the limit; with
`"truncate"` it is cut once and ends with an ellipsis. `reply_segments` builds the
outbound segments: the first message quotes the one it answers (`reply` segment).
"""
from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from chat import redis_clients

logger = logging.getLogger(__name__)

ELLIPSIS = "…"
SENTENCE_END = re.compile(r"(?<=[。！？!?.…~\n])")
WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

# KEYS: the stream's window; ARGV: now (ms), window (ms), limit, member.
# Drops entries older than the window, then takes a slot if one is free.
_TAKE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


@dataclass(frozen=True)
class Refusal:
    reason: str  # "blocked_user", "blocked_group", "quiet_hours", "rate_limited"
    detail: str


def _listed(value: str, entries: Iterable[Any], platform: str) -> bool:
    """Entries are bare ids or "platform:id" (then only for that platform)."""
    for entry in entries or ():
        entry = str(entry).strip()
        if entry == value or entry == f"{platform}:{value}":
            return True
    return False


def zone(name: str | None) -> ZoneInfo:
    """The configured timezone; UTC (with a log line) when the name is unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown timezone %r in config, using UTC", name)
        return ZoneInfo("UTC")


def in_quiet_hours(windows: Iterable[str], tz_name: str | None, now: datetime | None = None) -> str | None:
    """The quiet window ("HH:MM-HH:MM", may cross midnight) `now` falls in, if any."""
    local = (now or timezone.now()).astimezone(zone(tz_name)).time()
    for window in windows or ():
        match = WINDOW.match(str(window))
        if not match:
            continue
        start = clock(int(match[1]) % 24, int(match[2]) % 60)
        end = clock(int(match[3]) % 24, int(match[4]) % 60)
        inside = start <= local < end if start <= end else (local >= start or local < end)
        if inside:
            return str(window).strip()
    return None


def check_before_reply(
    config: Mapping[str, Any],
    *,
    schema_name: str,
    stream_id: str,
    platform: str,
    user_id: str | None,
    group_id: str | None,
    now: datetime | None = None,
    take_slot: bool = True,
) -> Refusal | None:
    """Everything that forbids answering this turn, cheapest first.

    With `take_slot` (the default) an allowed answer also takes one of the stream's
    rate-limit slots; without it the rate limit is left for `take_rate_slot` later.
    """
    if user_id and _listed(user_id, config.get("blocked_users") or (), platform):
        return Refusal("blocked_user", f"user {user_id} is blocked")
    if group_id and _listed(group_id, config.get("blocked_groups") or (), platform):
        return Refusal("blocked_group", f"group {group_id} is blocked")
    window = in_quiet_hours(config.get("quiet_hours") or (), config.get("timezone"), now)
    if window:
        return Refusal("quiet_hours", f"quiet hours {window} ({config.get('timezone') or 'UTC'})")
    if take_slot:
        return rate_refusal(config, schema_name=schema_name, stream_id=stream_id)
    return None


def rate_refusal(config: Mapping[str, Any], *, schema_name: str, stream_id: str) -> Refusal | None:
    """Take a slot of the stream's per-minute budget, or say why not."""
    per_minute = int(config.get("stream_replies_per_minute") or 0)
    if per_minute > 0 and not take_rate_slot(schema_name, stream_id, per_minute):
        return Refusal("rate_limited", f"more than {per_minute} replies a minute in this chat")
    return None


def take_rate_slot(schema_name: str, stream_id: str, per_minute: int) -> bool:
    script = redis_clients.sync_client().register_script(_TAKE_SLOT)
    key = redis_clients.key(schema_name, "rate", stream_id)
    now_ms = int(time.time() * 1000)
    return bool(script(keys=[key], args=[now_ms, 60_000, per_minute, f"{now_ms}-{uuid.uuid4().hex[:8]}"]))


def fit_length(text: str, config: Mapping[str, Any]) -> list[str]:
    """The reply as one or more messages within max_reply_length (see module docstring)."""
    text = (text or "").strip()
    limit = int(config.get("max_reply_length") or 0)
    if limit <= 0 or len(text) <= limit:
        return [text] if text else []
    if config.get("reply_overflow") == "truncate":
        return [_truncate(text, limit)]
    parts = _split(text, limit)
    max_parts = max(1, int(config.get("max_reply_parts") or 1))
    if len(parts) > max_parts:
        parts = parts[: max_parts - 1] + [_truncate(" ".join(parts[max_parts - 1:]), limit)]
    return parts


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def _split(text: str, limit: int) -> list[str]:
    """Greedy packing of sentences (then words, then characters) into parts ≤ limit."""
    pieces: list[str] = []
    for sentence in SENTENCE_END.split(text):
        sentence = sentence.strip() if not pieces else sentence.rstrip()
        while len(sentence.strip()) > limit:
            sentence = sentence.strip()
            space = sentence.rfind(" ", 0, limit + 1)
            at = space if space > 0 else limit
            pieces.append(sentence[:at])
            sentence = sentence[at:]
        if sentence.strip():
            pieces.append(sentence)
    parts: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) > limit:
            parts.append(current.strip())
            current = piece.lstrip()
        else:
            current += piece
    if current.strip():
        parts.append(current.strip())
    return [part for part in parts if part]


def reply_segments(text: str, *, quote_message_id: str | None) -> dict[str, Any]:
    """A message_segment: `seglist` of an optional `reply` quote then the text."""
    segments: list[dict[str, Any]] = []
    if quote_message_id:
        segments.append({"type": "reply", "data": str(quote_message_id)})
    segments.append({"type": "text", "data": text})
    return {"type": "seglist", "data": segments}
