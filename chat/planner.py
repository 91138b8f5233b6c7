"""Planner: reply or stay silent, and why.

Obvious cases follow rules and cost nothing: a private chat or a mention gets a reply,
an agent with talk_frequency 0 stays silent. Anything else asks the `planner` task's
model for a strict JSON answer `{"action": "reply" | "silent", "reason": "…"}`. An
answer that cannot be read, or no model answering, means silence: in a group chat,
not speaking is the safe mistake.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

from chat import llm

if TYPE_CHECKING:
    from agents.models import Agent

logger = logging.getLogger(__name__)

ACTIONS = ("reply", "silent")
REASON_CHARS = 300
JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


@dataclass(frozen=True)
class Decision:
    action: str  # "reply" | "silent"
    reason: str
    source: str  # "rule" | "model" | "fallback"

    @property
    def replies(self) -> bool:
        return self.action == "reply"

    def as_dict(self) -> dict[str, str]:
        return {"action": self.action, "reason": self.reason, "source": self.source}


def decide_by_rules(*, private: bool, mentioned: bool, talk_frequency: float) -> Decision | None:
    """The cheap path; None means the model has to decide."""
    if private:
        return Decision("reply", "private chat", "rule")
    if mentioned:
        return Decision("reply", "the agent was mentioned", "rule")
    if talk_frequency <= 0:
        return Decision("silent", "talk frequency is 0 and nobody mentioned the agent", "rule")
    return None


def planner_messages(agent_name: str, persona: str, transcript: Sequence[str], new_lines: Sequence[str]) -> list[dict]:
    system = (
        f"You decide whether {agent_name}, a member of a group chat, should say something now.\n"
        f"About {agent_name}: {persona or 'a friendly chat member'}\n"
        "Reply only when the conversation invites it: a question to the group, a topic "
        f"{agent_name} can add to, or someone addressing {agent_name}. Stay silent during "
        "small talk between others, or when a reply would interrupt.\n"
        'Answer with JSON only, no other text: {"action": "reply" or "silent", "reason": "<one short sentence>"}'
    )
    user = "Recent messages:\n" + ("\n".join(transcript) or "(none)")
    user += "\n\nNew since the last decision:\n" + "\n".join(new_lines)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def read_answer(text: str) -> Decision | None:
    """The model's decision, or None when the answer is not the JSON asked for."""
    match = JSON_OBJECT.search(text or "")
    if not match:
        return None
    try:
        payload = json.loads(match.group(0))
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    action = str(payload.get("action", "")).strip().lower()
    if action not in ACTIONS:
        return None
    reason = str(payload.get("reason") or "no reason given").strip()[:REASON_CHARS]
    return Decision(action, reason, "model")


def decide_with_model(
    agent: Agent,
    *,
    platform: str,
    stream_id: str,
    persona: str,
    transcript: Sequence[str],
    new_lines: Sequence[str],
) -> Decision:
    """Ask the planner model (inside the tenant's schema). QuotaExceeded propagates."""
    messages = planner_messages(agent.name, persona, transcript, new_lines)
    try:
        completion = llm.complete(
            "planner", messages, agent=agent, platform=platform, stream_id=stream_id,
            max_tokens=settings.PLANNER_MAX_TOKENS,
        )
    except llm.LLMUnavailable as exc:
        logger.warning("planner model unavailable, staying silent: %s", exc)
        return Decision("silent", "no planner model answered", "fallback")
    decision = read_answer(completion.text)
    if decision is None:
        logger.warning("planner answer unreadable, staying silent: %r", completion.text[:200])
        return Decision("silent", "the planner's answer was not valid JSON", "fallback")
    return decision
