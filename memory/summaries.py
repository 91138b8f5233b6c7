"""Summarising a chat stream's new messages into chat-level memories.

A cursor per (agent, stream) records the last message summarised. The cursor row is
locked for the whole run (`skip_locked`: a concurrent run leaves the stream alone) and
only advances when the memories are written, so no message is summarised twice or
skipped, even when the model fails.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from agents.audit import SYSTEM
from chat.models import ChatStream, Message
from memory import services
from memory.models import Memory, SummaryCursor

logger = logging.getLogger(__name__)

PROMPT = (
    "You keep the long-term memory of a chat assistant called {agent}. Read the chat "
    "excerpt and write down what is worth remembering later: facts about people, their "
    "preferences, plans, decisions, recurring topics. Skip greetings and chit-chat. "
    'Answer with JSON only: {{"memories": [{{"title": "...", "content": "...", '
    '"people": ["..."], "tags": ["..."]}}]}} with at most {limit} memories; '
    'answer {{"memories": []}} when nothing is worth keeping.'
)
JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


@dataclass(frozen=True)
class SummaryResult:
    stream_id: str
    messages: int
    memories: int
    skipped: str = ""  # why nothing ran, if so


def pending_count(stream: ChatStream) -> int:
    cursor = SummaryCursor.objects.filter(agent=stream.agent, stream_id=stream.stream_id).first()
    return Message.objects.filter(stream=stream, pk__gt=cursor.last_message_pk if cursor else 0).count()


def summarise_stream(stream: ChatStream, *, min_messages: int = 1) -> SummaryResult:
    """Summarise the stream's messages after its cursor. Runs inside the tenant's schema."""
    from chat import llm

    SummaryCursor.objects.get_or_create(agent=stream.agent, stream_id=stream.stream_id)
    with transaction.atomic():
        cursor = (
            SummaryCursor.objects.select_for_update(skip_locked=True)
            .filter(agent=stream.agent, stream_id=stream.stream_id)
            .first()
        )
        if cursor is None:
            return SummaryResult(stream.stream_id, 0, 0, "busy")
        batch = list(
            Message.objects.filter(stream=stream, pk__gt=cursor.last_message_pk)
            .select_related("sender")
            .order_by("pk")[: settings.SUMMARY_MAX_MESSAGES]
        )
        if len(batch) < max(1, min_messages):
            return SummaryResult(stream.stream_id, len(batch), 0, "too_few")
        agent = stream.agent
        transcript = "\n".join(_line(message, agent.name) for message in batch)
        completion = llm.complete(
            "utils",
            [
                {"role": "system", "content": PROMPT.format(agent=agent.name, limit=settings.SUMMARY_MAX_MEMORIES)},
                {"role": "user", "content": transcript[-settings.SUMMARY_MAX_CHARS :]},
            ],
            agent=agent, platform=stream.platform, stream_id=stream.stream_id, max_tokens=settings.SUMMARY_MAX_TOKENS,
        )
        items = _read(completion.text)
        if items:
            services.create_memories(
                agent,
                [
                    {
                        "level": Memory.Level.CHAT, "platform": stream.platform, "stream_id": stream.stream_id,
                        "title": item["title"], "content": item["content"], "tags": item["tags"],
                        "source": Memory.Source.SUMMARISED,
                        "metadata": {"people": item["people"], "from_message": batch[0].pk, "to_message": batch[-1].pk},
                    }
                    for item in items
                ],
                actor=SYSTEM,
            )
        cursor.last_message_pk = batch[-1].pk
        cursor.save(update_fields=["last_message_pk", "updated"])
    logger.info("summarised %d messages of %s into %d memories", len(batch), stream.stream_id[:12], len(items))
    return SummaryResult(stream.stream_id, len(batch), len(items))


def _line(message: Message, agent_name: str) -> str:
    if message.direction == Message.Direction.OUT:
        who = agent_name
    else:
        who = message.sender.display_name if message.sender else "someone"
    return f"{who}: {message.text}"


def _read(text: str) -> list[dict]:
    """The model's memories, cleaned; junk answers count as nothing worth keeping."""
    match = JSON_OBJECT.search(text or "")
    try:
        raw = json.loads(match.group(0)) if match else {}
    except json.JSONDecodeError:
        logger.warning("summary answer was not JSON: %r", (text or "")[:200])
        return []
    items = []
    for entry in (raw.get("memories") or [])[: settings.SUMMARY_MAX_MEMORIES] if isinstance(raw, dict) else []:
        if not isinstance(entry, dict):
            continue
        title, content = str(entry.get("title") or "").strip(), str(entry.get("content") or "").strip()
        if not title or not content:
            continue
        people = [str(p)[:100] for p in entry.get("people") or [] if isinstance(p, str | int)][:20]
        tags = [str(t).strip()[:40] for t in entry.get("tags") or [] if isinstance(t, str) and t.strip()][:20]
        items.append({"title": title[:200], "content": content[: settings.MEMORY_CONTENT_MAX_CHARS], "people": people, "tags": tags})
    return items
