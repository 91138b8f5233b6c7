"""Merging chat-level memories into one broader memory with the tenant's utils model."""
from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError

from agents.audit import Actor
from agents.models import Agent
from memory import services
from memory.models import Memory

MERGE_PROMPT = (
    "You merge notes an assistant keeps about its chats. Combine the notes below into one "
    "note that keeps every durable fact (people, preferences, plans, decisions) and drops "
    "chit-chat and repetition. Answer with the merged note only, in plain sentences."
)


def aggregate_memories(
    agent: Agent, *, to_level: str, actor: Actor, ids: Sequence[int] | None = None, platform: str | None = None,
    stream_id: str | None = None, title: str | None = None, delete_sources: bool = False,
) -> Memory:
    """Merge chat-level memories (given by id, or all of one stream) into a platform- or
    agent-level memory. The sources are kept unless `delete_sources`."""
    from chat import llm

    if to_level not in ("platform", "agent"):
        raise ValidationError({"to_level": ["Merge into the platform or agent level."]})
    sources = services.live(Memory.objects.filter(agent=agent, level=Memory.Level.CHAT))
    if ids:
        sources = sources.filter(pk__in=list(ids)[: settings.MEMORY_BATCH_MAX])
    elif stream_id:
        sources = sources.filter(stream_id=stream_id)
    else:
        raise ValidationError({"ids": ["Give memory ids or a stream_id to merge."]})
    sources = list(sources.order_by("created")[: settings.MEMORY_BATCH_MAX])
    if len(sources) < 2:
        raise ValidationError({"ids": ["Give at least two chat-level memories to merge."]})
    platforms = {m.platform for m in sources}
    target_platform = platform or (platforms.pop() if len(platforms) == 1 else "")
    if to_level == "platform" and not target_platform:
        raise ValidationError({"platform": ["These memories span platforms; say which platform the merge is for."]})
    notes = "\n".join(f"- {m.title}: {m.content}" for m in sources)
    completion = llm.complete(
        "utils", [{"role": "system", "content": MERGE_PROMPT}, {"role": "user", "content": notes}],
        agent=agent, platform=target_platform or None, max_tokens=settings.MEMORY_MERGE_MAX_TOKENS,
    )
    merged = services.create_memory(
        agent, actor=actor, level=to_level, platform=target_platform if to_level == "platform" else "",
        title=(title or f"Merged from {len(sources)} chat memories")[:200],
        content=completion.text.strip()[: settings.MEMORY_CONTENT_MAX_CHARS] or notes[: settings.MEMORY_CONTENT_MAX_CHARS],
        tags=sorted({t for m in sources for t in m.tags})[:20], source=Memory.Source.AGGREGATED,
        metadata={"merged_from": [m.pk for m in sources], "model": completion.model_name},
    )
    if delete_sources:
        services.delete_memories(Memory.objects.filter(agent=agent), [m.pk for m in sources], actor=actor)
    return merged
