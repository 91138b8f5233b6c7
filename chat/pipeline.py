"""The reply pipeline: heartflow → planner → replyer → sending policy → delivery.

`handle_inbound` is what the gateway runs (as a background task) after storing a
message. It takes the stream's turn (one at a time per stream, across processes);
a message arriving while a turn runs is left pending and handled, together with
anything else that arrived, by the next turn of whoever holds the stream.

`answer_now` runs a turn for one message and waits for it, for callers that answer
in their own response (the HTTP chat API, the dashboard playground). Replies then
come back to the caller instead of going to the adapter.

Every ORM call runs inside `tenant_context` within the same `database_sync_to_async`
function; Redis keys are built from the tenant's schema name explicitly.
"""
from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat import heartflow, planner, replyer, sending
from chat.llm import LLMUnavailable, QuotaExceeded
from chat.models import Turn
from maibot import context

if TYPE_CHECKING:
    from agents.models import Agent
    from tenants.models import Tenant

logger = logging.getLogger(__name__)

TIME_FORMAT = "%H:%M"


@dataclass(frozen=True)
class Line:
    """One stored message, as the pipeline reads it."""

    pk: int
    platform_message_id: str
    direction: str  # "in" / "out"
    text: str
    segments: Any
    user_id: str
    speaker: str
    time: Any

    def transcript_line(self, agent_name: str, zone: tzinfo | None = None) -> str:
        """`[HH:MM] speaker: text`, the time in the tenant's timezone."""
        when = timezone.localtime(self.time, zone).strftime(TIME_FORMAT) if self.time else "--:--"
        who = f"{agent_name} (you)" if self.direction == "out" else self.speaker
        return f"[{when}] {who}: {self.text}"


@dataclass
class TurnInput:
    agent: Agent
    config: dict[str, Any]
    stream_pk: int
    private: bool
    group_id: str
    chat_label: str
    new: list[Line]
    transcript: list[str]


@dataclass
class TurnResult:
    """What a turn decided and said, for the caller and the live view."""

    stage: str
    decision: planner.Decision
    replies: list[str] = field(default_factory=list)
    reply_pks: list[int] = field(default_factory=list)
    memories: list[Any] = field(default_factory=list)
    answered_pk: int | None = None
    turn_pk: int | None = None

    @property
    def reply(self) -> str | None:
        return "\n".join(self.replies) if self.replies else None


# -- entry points ---------------------------------------------------------------------------


async def handle_inbound(tenant: Tenant, agent_slug: str, platform: str, stream_id: str, message_pk: int) -> None:
    """Run the pipeline for a stored inbound message; replies go to the adapter."""
    schema = tenant.schema_name
    with context.bound(tenant=schema, agent=agent_slug, platform=platform, stream=stream_id):
        await heartflow.mark_pending(schema, stream_id, message_pk)
        # Loop: a message marked after our last look but before we let go of the turn
        # would otherwise wait for the next message of the stream.
        while await heartflow.has_pending(schema, stream_id):
            async with heartflow.stream_turn(schema, stream_id) as mine:
                if not mine:
                    return  # the holder will see our pending mark
                while await heartflow.take_pending(schema, stream_id):
                    try:
                        await _run_turn(tenant, agent_slug, platform, stream_id, newest_pk=message_pk)
                    except Exception:
                        # A failing turn must not leave the stream stuck or kill the gateway.
                        logger.exception("turn failed")


async def answer_now(
    tenant: Tenant,
    agent_slug: str,
    platform: str,
    stream_id: str,
    message_pk: int,
    *,
    on_delta: Callable[[str], None] | None = None,
) -> TurnResult | None:
    """Run a turn that answers `message_pk` and wait for it; replies are returned, not sent.

    None when no new message was left to handle (another turn took it).
    """
    schema = tenant.schema_name
    with context.bound(tenant=schema, agent=agent_slug, platform=platform, stream=stream_id):
        async with heartflow.stream_turn(schema, stream_id, wait=settings.CHAT_TURN_WAIT_SECONDS) as mine:
            if not mine:
                raise TimeoutError("The chat is busy with another turn; try again.")
            return await _run_turn(tenant, agent_slug, platform, stream_id, newest_pk=message_pk,
                                   to_adapter=False, on_delta=on_delta)


# -- one turn -------------------------------------------------------------------------------


async def _run_turn(
    tenant: Tenant,
    agent_slug: str,
    platform: str,
    stream_id: str,
    *,
    newest_pk: int,
    to_adapter: bool = True,
    on_delta: Callable[[str], None] | None = None,
) -> TurnResult | None:
    schema = tenant.schema_name
    since = await heartflow.last_handled(schema, stream_id)
    turn = await _load_turn(tenant, agent_slug, stream_id, since=since, newest_pk=newest_pk)
    if turn is None or not turn.new:
        return None
    await heartflow.set_last_handled(schema, stream_id, turn.new[-1].pk)
    agent, config = turn.agent, turn.config
    account = str((agent.platform_accounts or {}).get(platform) or "")
    mentioning = [line for line in turn.new if heartflow.mentions_agent(
        line.text, line.segments, account_id=account, names=[agent.name])]
    target = mentioning[-1] if mentioning else turn.new[-1]
    talk_frequency = float(config.get("talk_frequency", 1.0))

    verdict = await heartflow.judge(
        schema, stream_id, private=turn.private, mentioned=bool(mentioning),
        texts=[line.text for line in turn.new], talk_frequency=talk_frequency,
    )
    if not verdict.consider:
        reason = ("talk frequency is 0 and nobody mentioned the agent" if verdict.reason == "silent_agent"
                  else f"willingness {verdict.willingness:.2f} below threshold {verdict.threshold:.2f}")
        return await _finish(tenant, platform, stream_id, turn, target, "heartflow",
                             planner.Decision("silent", reason, "rule"))

    refusal = sending.check_before_reply(
        config, schema_name=schema, stream_id=stream_id, platform=platform, user_id=target.user_id,
        group_id=turn.group_id or None, take_slot=False,
    )
    if refusal is not None:
        return await _finish(tenant, platform, stream_id, turn, target, "policy",
                             planner.Decision("silent", refusal.detail, "rule"))

    decision = planner.decide_by_rules(private=turn.private, mentioned=bool(mentioning),
                                       talk_frequency=talk_frequency)
    if decision is None:
        try:
            decision = await _plan_with_model(tenant, turn, platform, stream_id)
        except QuotaExceeded as exc:
            return await _finish(tenant, platform, stream_id, turn, target, "quota",
                                 planner.Decision("silent", str(exc), "rule"))
    if not decision.replies:
        await heartflow.after_turn(schema, stream_id, spoke=False)
        return await _finish(tenant, platform, stream_id, turn, target, "planner", decision)

    refusal = sending.rate_refusal(config, schema_name=schema, stream_id=stream_id)
    if refusal is not None:
        return await _finish(tenant, platform, stream_id, turn, target, "policy",
                             planner.Decision("silent", refusal.detail, "rule"))
    await _publish(schema, agent.slug, {"kind": "plan", "stream_id": stream_id, **decision.as_dict(),
                                        "message_pk": target.pk})
    try:
        draft = await _write_reply(tenant, turn, platform, stream_id, target, on_delta)
    except QuotaExceeded as exc:
        return await _finish(tenant, platform, stream_id, turn, target, "quota",
                             planner.Decision("silent", str(exc), "rule"), published=True)
    except LLMUnavailable as exc:
        logger.warning("no reply written: %s", exc)
        return await _finish(tenant, platform, stream_id, turn, target, "llm",
                             planner.Decision("silent", "no reply model answered", "fallback"), published=True)
    parts = sending.fit_length(draft.completion.text, config)
    reply_pks = []
    for index, part in enumerate(parts):
        segments = sending.reply_segments(part, quote_message_id=target.platform_message_id if index == 0 else None)
        pk = await _store_reply(tenant, agent, platform, stream_id, turn, part, segments, to_adapter=to_adapter)
        reply_pks.append(pk)
        await _publish(schema, agent.slug, {"kind": "message_out", "stream_id": stream_id, "message_pk": pk,
                                            "text": part, "reply_to": target.pk})
    await heartflow.after_turn(schema, stream_id, spoke=bool(parts))
    result = await _finish(tenant, platform, stream_id, turn, target, "planner", decision, published=True,
                           replies=parts, reply_pks=reply_pks)
    result.memories = draft.memories
    return result


async def _finish(
    tenant: Tenant, platform: str, stream_id: str, turn: TurnInput, target: Line, stage: str,
    decision: planner.Decision, *, published: bool = False, replies: list[str] | None = None,
    reply_pks: list[int] | None = None,
) -> TurnResult:
    """Record the turn, tell the live view what was decided, and log silences with their reason."""
    turn_pk = await _record_turn(tenant, turn, platform, stream_id, stage, decision, reply_pks or [])
    if not published:
        await _publish(tenant.schema_name, turn.agent.slug, {
            "kind": "plan", "stream_id": stream_id, "stage": stage, **decision.as_dict(), "message_pk": target.pk,
        })
    if not decision.replies or not replies:
        logger.info("staying silent (%s): %s", stage, decision.reason)
    return TurnResult(stage, decision, replies or [], reply_pks or [], answered_pk=target.pk, turn_pk=turn_pk)


# -- database work (each in one database_sync_to_async call, inside tenant_context) -------------


def _effective_config(agent: Agent, platform: str) -> dict[str, Any]:
    from agents.config import effective_config

    return dict(effective_config(agent, platform).values)


@database_sync_to_async
def _load_turn(tenant: Tenant, agent_slug: str, stream_id: str, *, since: int | None,
               newest_pk: int) -> TurnInput | None:
    from agents.models import Agent
    from chat.models import ChatStream, Message

    with tenant_context(tenant):
        agent = Agent.objects.filter(slug=agent_slug, is_active=True).first()
        stream = ChatStream.objects.filter(stream_id=stream_id, agent=agent).first() if agent else None
        if stream is None:
            return None
        config = _effective_config(agent, stream.platform)
        inbound = Message.objects.filter(stream=stream, direction="in").select_related("sender")
        # Without a watermark (first turn, or Redis lost it) only the triggering message is new:
        # replaying old history as a burst would answer long-gone messages.
        inbound = inbound.filter(pk__gt=since) if since is not None else inbound.filter(pk__gte=newest_pk)
        new = [_line(m) for m in reversed(inbound.order_by("-pk")[: settings.CHAT_TURN_MAX_MESSAGES])]
        if not new:
            return TurnInput(agent, config, stream.pk, False, "", "", [], [])
        count = max(0, int(config.get("context_messages") or 0))
        history = (
            Message.objects.filter(stream=stream, pk__lte=new[-1].pk).select_related("sender").order_by("-pk")[:count]
        )
        zone = sending.zone(config.get("timezone"))
        transcript = [_line(m).transcript_line(agent.name, zone) for m in reversed(history)] if count else []
        private = not stream.group_id
        if private:
            chat_label = f"a private chat with {new[-1].speaker}"
        else:
            chat_label = f"the group chat {stream.group_name or stream.group_id}"
        return TurnInput(agent, config, stream.pk, private, stream.group_id or "", chat_label, new, transcript)


def _line(message: Any) -> Line:
    sender = message.sender
    speaker = ""
    user_id = ""
    if sender is not None:
        speaker = sender.cardname or sender.nickname or sender.user_id
        user_id = sender.user_id
    return Line(message.pk, message.platform_message_id or "", message.direction, message.text or "",
                message.segments, user_id, speaker or "someone", message.time)


# Model calls block for seconds. database_sync_to_async's default (thread-sensitive) runs
# every call of a process on one shared thread, so they would queue behind each other;
# they run on the worker pool instead, at most CHAT_LLM_CONCURRENCY at a time per event
# loop (each holds a pooled database connection, so keep it below DB_POOL_MAX).
_model_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slots = _model_slots.get(loop)
    if slots is None:
        slots = _model_slots[loop] = asyncio.Semaphore(settings.CHAT_LLM_CONCURRENCY)
    return slots


async def _call_models(work: Callable[[], Any]) -> Any:
    async with _slots():
        return await database_sync_to_async(work, thread_sensitive=False)()


async def _plan_with_model(tenant: Tenant, turn: TurnInput, platform: str, stream_id: str) -> planner.Decision:
    zone = sending.zone(turn.config.get("timezone"))

    def plan() -> planner.Decision:
        with tenant_context(tenant):
            return planner.decide_with_model(
                turn.agent, platform=platform, stream_id=stream_id,
                persona=turn.config.get("persona") or turn.agent.persona,
                transcript=turn.transcript,
                new_lines=[line.transcript_line(turn.agent.name, zone) for line in turn.new],
            )

    return await _call_models(plan)


async def _write_reply(tenant: Tenant, turn: TurnInput, platform: str, stream_id: str, target: Line,
                       on_delta: Callable[[str], None] | None) -> replyer.Draft:
    def write() -> replyer.Draft:
        with tenant_context(tenant):
            return replyer.write_reply(
                turn.agent, turn.config, platform=platform, stream_id=stream_id, chat_label=turn.chat_label,
                transcript=turn.transcript, speaker=target.speaker, target_text=target.text, on_delta=on_delta,
            )

    return await _call_models(write)


async def _store_reply(tenant: Tenant, agent: Agent, platform: str, stream_id: str, turn: TurnInput, text: str,
                       segments: dict, *, to_adapter: bool) -> int:
    """Store the reply as an outbound message and, for adapter chats, deliver it."""
    from chat import delivery

    if to_adapter:
        return await delivery.send_to_adapter(tenant, agent.slug, platform, stream_id, text=text, segments=segments)
    return await delivery.store_outbound(tenant, agent.slug, platform, stream_id, text=text, segments=segments)


@database_sync_to_async
def _record_turn(tenant: Tenant, turn: TurnInput, platform: str, stream_id: str, stage: str,
                 decision: planner.Decision, reply_pks: list[int]) -> int:
    with tenant_context(tenant):
        return Turn.objects.create(
            agent=turn.agent, platform=platform, stream_id=stream_id, first_message_pk=turn.new[0].pk,
            last_message_pk=turn.new[-1].pk, message_count=len(turn.new), stage=stage, action=decision.action,
            reason=decision.reason[:300], source=decision.source, reply_pks=reply_pks,
        ).pk


async def _publish(schema_name: str, agent_slug: str, event: dict[str, Any]) -> None:
    from chat import delivery

    await delivery.publish_live_event(schema_name, agent_slug, event)
