"""Replyer: the prompt for a reply, and the call to the `replyer` task's models.

The prompt is built from the effective config for the agent and platform (persona,
reply style), the last `context_messages` messages of the stream, the name of the
person being answered, and memories from `memory.services.search_for_reply` unless
`memory_enabled` is false. Sync, inside the tenant's schema.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chat import llm

if TYPE_CHECKING:
    from agents.models import Agent

logger = logging.getLogger(__name__)

MEMORY_CHARS = 500  # per memory in the prompt


@dataclass(frozen=True)
class Draft:
    completion: llm.Completion
    memories: list[Any] = field(default_factory=list)
    prompt: list[dict] = field(default_factory=list)


def memories_for_reply(agent: Agent, platform: str, stream_id: str, query_text: str, k: int) -> list[Any]:
    """Memories to ground the reply, from the memory app when it is installed.

    Imported lazily: chat must work (without memories) where memory is not deployed.
    A failing search costs the reply its memories, not the reply itself.
    """
    try:
        from memory.services import search_for_reply
    except ImportError:
        return []
    try:
        return list(search_for_reply(agent, platform, stream_id, query_text, k))
    except Exception:  # noqa: BLE001 - any memory failure degrades to no memories
        logger.exception("memory search failed; replying without memories")
        return []


def _memory_line(hit: Any) -> str:
    title = getattr(hit, "title", "") or ""
    content = (getattr(hit, "content", "") or "")[:MEMORY_CHARS]
    return f"- {title}: {content}" if title else f"- {content}"


def reply_messages(
    *,
    agent_name: str,
    persona: str,
    reply_style: str,
    chat_label: str,
    transcript: Sequence[str],
    speaker: str,
    target_text: str,
    memories: Sequence[Any] = (),
) -> list[dict]:
    system = [
        f"You are {agent_name}, chatting in {chat_label}.",
        f"Who you are: {persona or 'a friendly chat member'}",
    ]
    if reply_style:
        system.append(f"How you talk: {reply_style}")
    if memories:
        system.append("Things you remember:\n" + "\n".join(_memory_line(hit) for hit in memories))
    system.append(
        "Write only your next chat message: short and natural, in the language of the chat, "
        "with no name prefix, no quotes around it and no explanation."
    )
    user = "Recent messages:\n" + ("\n".join(transcript) or "(none)")
    user += f"\n\nYou are answering {speaker}, who said: {target_text}"
    return [{"role": "system", "content": "\n".join(system)}, {"role": "user", "content": user}]


def write_reply(
    agent: Agent,
    config: Mapping[str, Any],
    *,
    platform: str,
    stream_id: str,
    chat_label: str,
    transcript: Sequence[str],
    speaker: str,
    target_text: str,
    on_delta: Callable[[str], None] | None = None,
) -> Draft:
    """Build the prompt and ask the replyer models; QuotaExceeded / LLMUnavailable propagate."""
    memories: list[Any] = []
    if config.get("memory_enabled", True):
        memories = memories_for_reply(agent, platform, stream_id, target_text, int(config.get("memory_top_k") or 5))
    prompt = reply_messages(
        agent_name=agent.name,
        persona=config.get("persona") or agent.persona,
        reply_style=config.get("reply_style") or agent.reply_style,
        chat_label=chat_label,
        transcript=transcript,
        speaker=speaker,
        target_text=target_text,
        memories=memories,
    )
    completion = llm.complete("replyer", prompt, agent=agent, platform=platform, stream_id=stream_id,
                              on_delta=on_delta)
    return Draft(completion, memories, prompt)
