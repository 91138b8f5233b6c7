"""Every read and change of a tenant's memories: validated, embedded, audited.

Runs inside the tenant's schema. Searches use the HNSW index with pgvector's iterative
scan, so a filtered search still returns `k` rows when `k` match.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from pgvector.django import CosineDistance

from agents import audit
from agents.audit import Actor
from agents.models import Agent
from maibot.errors import LimitReached
from memory.embeddings import embed_texts
from memory.models import Conflict, Memory

LEVELS = tuple(Memory.Level.values)
NEAREST_FIRST = ("chat", "platform", "agent")
SOURCES = tuple(Memory.Source.values)
MAX_TAGS = 20
MAX_METADATA_BYTES = 10_000
EDITABLE = ("level", "platform", "stream_id", "title", "content", "tags", "metadata", "source", "expires")


@dataclass(frozen=True)
class MemoryHit:
    id: int
    title: str
    content: str
    level: str
    platform: str
    stream_id: str
    tags: list[str]
    score: float  # cosine similarity, 1 is identical

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "content": self.content, "level": self.level,
            "platform": self.platform, "stream_id": self.stream_id, "tags": self.tags, "score": round(self.score, 4),
        }


# -- validation -------------------------------------------------------------------------------


def _clean(fields: dict[str, Any], *, current: Memory | None = None) -> dict[str, Any]:
    """Check each field; report every problem at once. Scope must fit the level."""
    problems: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in EDITABLE:
            problems[name] = ["This field cannot be set."]
        elif name == "level":
            if value not in LEVELS:
                problems[name] = [f"Choose one of: {', '.join(LEVELS)}."]
            cleaned[name] = value
        elif name in ("platform", "stream_id"):
            limit = 32 if name == "platform" else 64
            if not isinstance(value, str) or len(value) > limit:
                problems[name] = [f"Give at most {limit} characters."]
            cleaned[name] = value or ""
        elif name == "title":
            if not isinstance(value, str) or not value.strip() or len(value) > 200:
                problems[name] = ["Give a title of 1-200 characters."]
            cleaned[name] = (value or "").strip() if isinstance(value, str) else value
        elif name == "content":
            limit = settings.MEMORY_CONTENT_MAX_CHARS
            if not isinstance(value, str) or not value.strip() or len(value) > limit:
                problems[name] = [f"Give content of 1-{limit} characters."]
            cleaned[name] = value.strip() if isinstance(value, str) else value
        elif name == "tags":
            if not isinstance(value, list) or len(value) > MAX_TAGS or not all(
                isinstance(t, str) and 0 < len(t.strip()) <= 40 for t in value
            ):
                problems[name] = [f"Give at most {MAX_TAGS} tags of 1-40 characters."]
            else:
                cleaned[name] = list(dict.fromkeys(t.strip().lower() for t in value))
        elif name == "metadata":
            if not isinstance(value, dict) or len(json.dumps(value, default=str)) > MAX_METADATA_BYTES:
                problems[name] = [f"Give an object of at most {MAX_METADATA_BYTES} bytes."]
            cleaned[name] = value
        elif name == "source":
            if value not in SOURCES:
                problems[name] = [f"Choose one of: {', '.join(SOURCES)}."]
            cleaned[name] = value
        elif name == "expires":
            moment = parse_datetime(value) if isinstance(value, str) else value
            if value is not None and not isinstance(moment, datetime):
                problems[name] = ["Give an ISO 8601 date and time, or null."]
            cleaned[name] = moment
    for name, value in cleaned.items():
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            problems.setdefault(name, []).append("Text may not contain NUL characters.")
    if not problems:
        level = cleaned.get("level", current.level if current else None)
        platform = cleaned.get("platform", current.platform if current else "")
        stream_id = cleaned.get("stream_id", current.stream_id if current else "")
        if level is None:
            problems["level"] = ["Give the memory's level."]
        elif level == "agent" and (platform or stream_id):
            problems["level"] = ["An agent-level memory has no platform or stream."]
        elif level == "platform" and (not platform or stream_id):
            problems["platform"] = ["A platform-level memory needs a platform and no stream."]
        elif level == "chat" and not (platform and stream_id):
            problems["stream_id"] = ["A chat-level memory needs a platform and a stream id."]
    if problems:
        raise ValidationError(problems)
    return cleaned


def _check_room(tenant: Any, adding: int) -> None:
    plan = getattr(tenant, "plan", None)
    if plan is not None and Memory.objects.count() + adding > plan.max_memories:
        raise LimitReached(f"The {plan} plan allows {plan.max_memories} memories; delete some or change plan.")


def _embedding_text(title: str, content: str) -> str:
    return f"{title}\n{content}"


# -- changes ----------------------------------------------------------------------------------


def create_memories(agent: Agent, items: Sequence[dict[str, Any]], *, actor: Actor) -> list[Memory]:
    """Create several memories at once; nothing is written unless every item is valid."""
    if not items or len(items) > settings.MEMORY_BATCH_MAX:
        raise ValidationError({"items": [f"Give 1-{settings.MEMORY_BATCH_MAX} memories."]})
    problems: dict[str, list[str]] = {}
    cleaned: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            fields = _clean(dict(item))
            for required in ("title", "content"):
                if required not in fields:
                    raise ValidationError({required: ["This field is required."]})
            cleaned.append(fields)
        except ValidationError as error:
            prefix = f"items[{index}]." if len(items) > 1 else ""
            problems.update({f"{prefix}{k}": v for k, v in error.message_dict.items()})
    if problems:
        raise ValidationError(problems)
    _check_room(connection.tenant, len(cleaned))
    vectors = embed_texts([_embedding_text(f["title"], f["content"]) for f in cleaned], agent)
    with transaction.atomic():
        memories = Memory.objects.bulk_create(
            [Memory(agent=agent, embedding=vector, **fields) for fields, vector in zip(cleaned, vectors, strict=True)]
        )
        for memory in memories:
            audit.record(actor, "memory.create", "memory", memory.pk, {"agent": agent.slug, "level": memory.level, "title": memory.title})
    return memories


def create_memory(agent: Agent, *, actor: Actor, **fields: Any) -> Memory:
    return create_memories(agent, [fields], actor=actor)[0]


def update_memory(memory: Memory, changes: dict[str, Any], *, actor: Actor) -> Memory:
    cleaned = _clean(changes, current=memory)
    before = {name: getattr(memory, name) for name in cleaned}
    for name, value in cleaned.items():
        setattr(memory, name, value)
    if "title" in cleaned or "content" in cleaned:
        memory.embedding = embed_texts([_embedding_text(memory.title, memory.content)], memory.agent)[0]
    with transaction.atomic():
        memory.save()
        audit.record(actor, "memory.update", "memory", memory.pk, {k: {"old": before[k], "new": v} for k, v in cleaned.items() if before[k] != v})
    return memory


def delete_memories(memories: QuerySet[Memory], ids: Iterable[int], *, actor: Actor) -> int:
    """Delete the given ids among `memories` (the caller's visible set); returns how many."""
    ids = [int(i) for i in ids][: settings.MEMORY_BATCH_MAX]
    with transaction.atomic():
        doomed = list(memories.filter(pk__in=ids).values_list("pk", flat=True))
        Memory.objects.filter(pk__in=doomed).delete()
        for pk in doomed:
            audit.record(actor, "memory.delete", "memory", pk)
    return len(doomed)


def expire_memories(now: datetime | None = None) -> int:
    """Remove memories whose expiry has passed. Returns how many."""
    deleted, _ = Memory.objects.filter(expires__lte=now or timezone.now()).delete()
    return deleted


# -- reading ----------------------------------------------------------------------------------


def live(memories: QuerySet[Memory] | None = None) -> QuerySet[Memory]:
    memories = Memory.objects.all() if memories is None else memories
    return memories.filter(Q(expires__isnull=True) | Q(expires__gt=timezone.now()))


def query_memories(
    memories: QuerySet[Memory], *, level: str | None = None, platform: str | None = None, stream_id: str | None = None,
    tags: Sequence[str] = (), source: str | None = None, text: str | None = None, include_expired: bool = False,
) -> QuerySet[Memory]:
    if not include_expired:
        memories = live(memories)
    for name, value in (("level", level), ("platform", platform), ("stream_id", stream_id), ("source", source)):
        if value:
            memories = memories.filter(**{name: value})
    if tags:
        memories = memories.filter(tags__contains=[t.lower() for t in tags])
    if text:
        memories = memories.filter(Q(title__icontains=text) | Q(content__icontains=text))
    return memories


def search(
    memories: QuerySet[Memory], query: str, *, agent: Agent | None = None, k: int = 5, exact: bool = False,
    **filters: Any,
) -> list[MemoryHit]:
    """The `k` memories most similar to `query` among `memories` narrowed by `filters`."""
    k = max(1, min(int(k), settings.MEMORY_SEARCH_MAX_K))
    vector = embed_texts([query], agent)[0]
    return search_by_vector(memories, vector, k=k, exact=exact, **filters)


def search_by_vector(
    memories: QuerySet[Memory], vector: Sequence[float], *, k: int, exact: bool = False, **filters: Any
) -> list[MemoryHit]:
    candidates = query_memories(memories, **filters).exclude(embedding__isnull=True)
    with transaction.atomic(), connection.cursor() as cursor:
        if exact:
            cursor.execute("SET LOCAL enable_indexscan = off")
        else:
            # Filters apply after the index scan; iterative scan keeps reading the graph
            # until k rows pass them. ef_search bounds the candidate list per step.
            cursor.execute(f"SET LOCAL hnsw.ef_search = {max(int(settings.MEMORY_HNSW_EF_SEARCH), k)}")
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        rows = list(
            candidates.annotate(distance=CosineDistance("embedding", list(vector)))
            .order_by("distance")
            .values("pk", "title", "content", "level", "platform", "stream_id", "tags", "distance")[:k]
        )
    rows.sort(key=lambda row: row["distance"])  # relaxed order may be slightly off
    return [
        MemoryHit(r["pk"], r["title"], r["content"], r["level"], r["platform"], r["stream_id"], r["tags"], 1 - r["distance"])
        for r in rows
    ]


def search_in_scope(
    agent: Agent, query: str, *, platform: str, stream_id: str, k: int, scope: Sequence[str] = NEAREST_FIRST
) -> list[MemoryHit]:
    """A chat's memories first, then its platform's, then the agent's (in `scope` order)."""
    vector = embed_texts([query], agent)[0]
    hits: list[MemoryHit] = []
    for level in scope:
        if len(hits) >= k:
            break
        where = {"level": level}
        if level == "chat":
            where |= {"platform": platform, "stream_id": stream_id}
        elif level == "platform":
            where |= {"platform": platform}
        hits.extend(search_by_vector(Memory.objects.filter(agent=agent), vector, k=k - len(hits), **where))
    return hits


def search_for_reply(agent: Agent, platform: str, stream_id: str, query_text: str, k: int | None = None) -> list[MemoryHit]:
    """Memories for the replyer's prompt; none when the agent's memory is switched off."""
    from agents.config import effective_config

    config = effective_config(agent, platform)
    if not config["memory_enabled"] or not query_text.strip():
        return []
    k = config["memory_top_k"] if k is None else k
    if k <= 0 or not live(Memory.objects.filter(agent=agent)).exists():
        return []  # nothing to find: skip embedding the query (and loading the model)
    hits = search_in_scope(agent, query_text, platform=platform, stream_id=stream_id, k=k, scope=config["memory_scope"])
    return [hit for hit in hits if hit.score >= settings.MEMORY_REPLY_MIN_SCORE]


def memory_stats(memories: QuerySet[Memory]) -> dict[str, Any]:
    now = timezone.now()
    by_level = {level: 0 for level in LEVELS}
    for row in memories.values("level").annotate(n=Count("id")):
        by_level[row["level"]] = row["n"]
    by_source = {row["source"]: row["n"] for row in memories.values("source").annotate(n=Count("id"))}
    return {
        "total": sum(by_level.values()),
        "by_level": by_level,
        "by_source": by_source,
        "expired": memories.filter(expires__lte=now).count(),
        "without_embedding": memories.filter(embedding__isnull=True).count(),
    }


# -- conflicts --------------------------------------------------------------------------------

CONFLICT_FIELDS = ("title", "context", "following", "platform", "stream_id")


def _clean_conflict(fields: dict[str, Any]) -> dict[str, Any]:
    problems: dict[str, list[str]] = {}
    for name, value in fields.items():
        if name not in CONFLICT_FIELDS:
            problems[name] = ["This field cannot be set."]
        elif name == "title" and (not isinstance(value, str) or not value.strip() or len(value) > 200):
            problems[name] = ["Give a title of 1-200 characters."]
        elif name == "context" and (not isinstance(value, str) or len(value) > settings.MEMORY_CONTENT_MAX_CHARS):
            problems[name] = [f"Give at most {settings.MEMORY_CONTENT_MAX_CHARS} characters."]
        elif name == "following" and not isinstance(value, bool):
            problems[name] = ["Give true or false."]
        elif name in ("platform", "stream_id") and (not isinstance(value, str) or len(value) > 64):
            problems[name] = ["Give at most 64 characters."]
    if problems:
        raise ValidationError(problems)
    return fields


def create_conflict(agent: Agent, *, actor: Actor, **fields: Any) -> Conflict:
    if "title" not in fields:
        raise ValidationError({"title": ["This field is required."]})
    conflict = Conflict.objects.create(agent=agent, **_clean_conflict(fields))
    audit.record(actor, "conflict.create", "conflict", conflict.pk, {"title": conflict.title})
    return conflict


def update_conflict(conflict: Conflict, changes: dict[str, Any], *, actor: Actor) -> Conflict:
    for name, value in _clean_conflict(changes).items():
        setattr(conflict, name, value)
    conflict.save()
    audit.record(actor, "conflict.update", "conflict", conflict.pk, changes)
    return conflict


def resolve_conflict(conflict: Conflict, *, resolution: str, actor: Actor) -> Conflict:
    if not isinstance(resolution, str) or len(resolution) > settings.MEMORY_CONTENT_MAX_CHARS:
        raise ValidationError({"resolution": [f"Give at most {settings.MEMORY_CONTENT_MAX_CHARS} characters."]})
    conflict.resolved, conflict.following = True, False
    conflict.resolution, conflict.resolved_at = resolution.strip(), timezone.now()
    conflict.save()
    audit.record(actor, "conflict.resolve", "conflict", conflict.pk, {"resolution": conflict.resolution})
    return conflict


def delete_conflict(conflict: Conflict, *, actor: Actor) -> None:
    pk = conflict.pk
    conflict.delete()
    audit.record(actor, "conflict.delete", "conflict", pk)
