"""The reply pipeline end to end: stored message in, decision recorded, reply out to the adapter."""
from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django_tenants.utils import tenant_context

from agents.audit import SYSTEM
from agents.config import set_config_value
from agents.models import Agent
from chat import heartflow, pipeline
from chat.models import Message, Turn, UsageAlert
from tenants.models import Tenant
from tests.chat.conftest import give_plan, replies_in, run_inbound, say, use_models
from tests.fakes.openai_server import FakeOpenAI, Reply


def configure(agent: Agent, **values: object) -> None:
    for key, value in values.items():
        set_config_value("agent", key, value, agent=agent, actor=SYSTEM)


def test_a_mention_in_a_group_gets_a_reply_quoting_it(tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI) -> None:
    # given
    openai_server.reply_for_model("talker-id", "Happy to help!")
    message = say(mai, "can you help?", segments=[{"type": "at", "data": "10001"},
                                                  {"type": "text", "data": " can you help?"}])
    # when
    run_inbound(tenant_a, message)
    # then
    [reply] = replies_in(message)
    assert reply.text == "Happy to help!"
    assert reply.segments["data"][0] == {"type": "reply", "data": message.platform_message_id}
    assert reply.delivery == Message.Delivery.PENDING  # handed to the adapter's connection
    turn = Turn.objects.get()
    assert (turn.action, turn.reason, turn.source, turn.reply_pks) == (
        "reply", "the agent was mentioned", "rule", [reply.pk])
    assert openai_server.chat_requests("thinker-id") == []  # no planner call for the obvious case


def test_the_napcat_flattened_mention_counts(tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI) -> None:
    configure(mai, talk_frequency=0)
    message = say(mai, "@<Mai:10001> are you there?")
    run_inbound(tenant_a, message)
    assert len(replies_in(message)) == 1


def test_a_private_message_gets_a_reply(tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI) -> None:
    configure(mai, talk_frequency=0)
    message = say(mai, "hi, just us", group_id=None)
    run_inbound(tenant_a, message)
    [reply] = replies_in(message)
    assert reply.segments["data"][0]["type"] == "reply"
    assert Turn.objects.get().reason == "private chat"


def test_talk_frequency_zero_without_a_mention_stays_silent_and_asks_no_model(
    tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI
) -> None:
    configure(mai, talk_frequency=0)
    message = say(mai, "what a lovely day, is it not?")
    run_inbound(tenant_a, message)
    assert replies_in(message) == []
    assert openai_server.chat_requests() == []
    turn = Turn.objects.get()
    assert (turn.stage, turn.action) == ("heartflow", "silent")


def test_the_planner_model_decides_for_plain_group_messages(
    tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI
) -> None:
    # given: every message is considered, and the planner declines
    configure(mai, talk_frequency=1)
    openai_server.reply_for_model("thinker-id", '{"action": "silent", "reason": "two friends chatting"}')
    message = say(mai, "did you see the match?")
    # when
    run_inbound(tenant_a, message)
    # then
    assert replies_in(message) == []
    turn = Turn.objects.get()
    assert (turn.stage, turn.action, turn.reason, turn.source) == ("planner", "silent", "two friends chatting", "model")
    assert "did you see the match?" in openai_server.chat_requests("thinker-id")[0].prompt_text
    assert async_to_sync(heartflow.silent_turns)(tenant_a.schema_name, message.stream.stream_id) == 1


def test_a_planner_saying_reply_gets_a_reply(tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI) -> None:
    configure(mai, talk_frequency=1)
    openai_server.reply_for_model("thinker-id", '{"action": "reply", "reason": "a question for everyone"}')
    message = say(mai, "anyone know a good book?")
    run_inbound(tenant_a, message)
    assert len(replies_in(message)) == 1
    assert Turn.objects.get().reason == "a question for everyone"


def test_a_junk_planner_answer_means_silence(tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI) -> None:
    configure(mai, talk_frequency=1)
    openai_server.reply_for_model("thinker-id", "Hmm, maybe? I would say yes.")
    message = say(mai, "thoughts?")
    run_inbound(tenant_a, message)
    assert replies_in(message) == []
    assert Turn.objects.get().source == "fallback"


def test_the_reply_prompt_has_persona_style_recent_messages_and_speaker(
    tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI
) -> None:
    # given: earlier messages in the group
    say(mai, "I finished the novel yesterday", user_id="u2", nickname="Bob")
    configure(mai, talk_frequency=0, context_messages=5)
    message = say(mai, "@<Mai:10001> what should Bob read next?", nickname="Alice")
    # when
    run_inbound(tenant_a, message)
    # then
    prompt = openai_server.chat_requests("talker-id")[0].prompt_text
    assert "a cheerful librarian" in prompt and "short and warm" in prompt
    assert "Bob: I finished the novel yesterday" in prompt
    assert "You are answering Alice" in prompt
    assert "the group chat Book club" in prompt


def test_only_the_last_context_messages_are_in_the_prompt(
    tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI
) -> None:
    configure(mai, talk_frequency=0, context_messages=2)
    say(mai, "oldest line", user_id="u2")
    say(mai, "middle line", user_id="u2")
    message = say(mai, "@<Mai:10001> newest")
    run_inbound(tenant_a, message)
    prompt = openai_server.chat_requests("talker-id")[0].prompt_text
    assert "middle line" in prompt and "oldest line" not in prompt


def test_an_exceeded_quota_makes_no_llm_call_logs_and_alerts(
    tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    # given: a plan with almost no tokens
    give_plan(tenant_a, daily_tokens=10)
    message = say(mai, "@<Mai:10001> hello?")
    # when
    with caplog.at_level(logging.INFO):
        run_inbound(tenant_a, message)
    # then
    assert openai_server.chat_requests() == []
    assert replies_in(message) == []
    with tenant_context(tenant_a):
        assert Turn.objects.get().stage == "quota"
        assert UsageAlert.objects.filter(level="exceeded").exists()
    record = next(r for r in caplog.records if "quota exceeded" in r.getMessage())
    assert (record.tenant, record.agent) == (tenant_a.schema_name, "mai")


def test_a_blocked_user_gets_no_reply_and_costs_nothing(tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI) -> None:
    configure(mai, blocked_users=["u666"])
    message = say(mai, "@<Mai:10001> answer me", user_id="u666")
    run_inbound(tenant_a, message)
    assert replies_in(message) == []
    assert openai_server.chat_requests() == []
    assert Turn.objects.get().stage == "policy"


def test_quiet_hours_keep_the_agent_silent(tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI) -> None:
    configure(mai, quiet_hours=["00:00-23:59"])
    message = say(mai, "hello", group_id=None)
    run_inbound(tenant_a, message)
    assert replies_in(message) == []
    assert "quiet hours" in Turn.objects.get().reason


def test_the_per_stream_rate_limit_stops_extra_replies(tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI) -> None:
    configure(mai, stream_replies_per_minute=1)
    first = say(mai, "one", group_id=None)
    run_inbound(tenant_a, first)
    second = say(mai, "two", group_id=None)
    run_inbound(tenant_a, second)
    assert len(replies_in(second)) == 1
    assert Turn.objects.order_by("pk").last().reason == "more than 1 replies a minute in this chat"


def test_a_long_reply_is_split_and_only_the_first_part_quotes(
    tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI
) -> None:
    configure(mai, max_reply_length=20, reply_overflow="split", max_reply_parts=3)
    openai_server.reply_for_model("talker-id", "First part is here. Second part is here.")
    message = say(mai, "tell me", group_id=None)
    run_inbound(tenant_a, message)
    replies = replies_in(message)
    assert [r.text for r in replies] == ["First part is here.", "Second part is here."]
    assert [r.segments["data"][0]["type"] for r in replies] == ["reply", "text"]


def test_no_reply_model_answering_means_silence_not_a_crash(
    tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI
) -> None:
    openai_server.reply_for_model("talker-id", Reply(status=500))
    message = say(mai, "hello", group_id=None)
    run_inbound(tenant_a, message)
    assert replies_in(message) == []
    assert Turn.objects.get().stage == "llm"


def test_a_burst_of_messages_is_answered_in_one_turn(tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI) -> None:
    # given: an earlier turn, then three messages arriving together
    run_inbound(tenant_a, say(mai, "hi", group_id=None))
    burst = [say(mai, text, group_id=None) for text in ("wait", "one more thing", "are you there?")]

    async def arrive_together() -> None:
        stream = burst[0].stream
        await asyncio.gather(*(
            pipeline.handle_inbound(tenant_a, "mai", "qq", stream.stream_id, m.pk) for m in burst
        ))

    # when
    async_to_sync(arrive_together)()
    # then: one more turn covering all three, answering the last
    turn = Turn.objects.order_by("pk").last()
    assert Turn.objects.count() == 2
    assert (turn.first_message_pk, turn.last_message_pk, turn.message_count) == (burst[0].pk, burst[-1].pk, 3)
    assert replies_in(burst[0])[-1].segments["data"][0]["data"] == burst[-1].platform_message_id


def test_the_live_view_hears_the_plan_and_the_reply(tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI) -> None:
    message = say(mai, "hello", group_id=None)

    async def listen_while_handling() -> list[dict]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(f"live.{tenant_a.schema_name}.mai", channel)
        await pipeline.handle_inbound(tenant_a, "mai", "qq", message.stream.stream_id, message.pk)
        events = []
        for _ in range(2):
            events.append((await asyncio.wait_for(layer.receive(channel), timeout=5))["event"])
        await layer.group_discard(f"live.{tenant_a.schema_name}.mai", channel)
        return events

    events = async_to_sync(listen_while_handling)()
    assert [e["kind"] for e in events] == ["plan", "message_out"]
    assert events[0]["action"] == "reply"
    assert events[1]["text"] == "Hello from the test model."


def test_another_tenant_with_the_same_ids_gets_its_own_answers(
    tenant_a: Tenant, tenant_b: Tenant, mai: Agent, openai_server: FakeOpenAI
) -> None:
    # given: the same agent slug, platform, group and user in tenant B
    with tenant_context(tenant_b):
        twin = Agent.objects.create(slug="mai", name="Mai", platform_accounts={"qq": "10001"})
        use_models(openai_server, "replyer", ["talker-b"])
        openai_server.reply_for_model("talker-b-id", "B's own answer")
        message_b = say(twin, "@<Mai:10001> hi from B")
    message_a = say(mai, "@<Mai:10001> hi from A")
    # when
    run_inbound(tenant_a, message_a)
    run_inbound(tenant_b, message_b)
    # then
    assert message_a.stream.stream_id != message_b.stream.stream_id
    assert [r.text for r in replies_in(message_a)] == ["Hello from the test model."]
    with tenant_context(tenant_b):
        assert [r.text for r in replies_in(message_b)] == ["B's own answer"]
        assert Turn.objects.count() == 1
        assert "hi from A" not in openai_server.chat_requests("talker-b-id")[0].prompt_text
    assert Turn.objects.count() == 1


def test_replies_in_different_chats_are_written_at_the_same_time(
    tenant_a: Tenant, mai: Agent, openai_server: FakeOpenAI
) -> None:
    # given: the model answers only once two requests are waiting together
    both_waiting = threading.Barrier(2, timeout=5)

    def answer(body: dict) -> Reply:
        try:
            both_waiting.wait()
        except threading.BrokenBarrierError:
            return Reply(status=500, error_message="calls were not concurrent")
        return Reply(text="together")

    openai_server.respond_with(answer)
    first = say(mai, "hi", group_id=None, user_id="u1")
    second = say(mai, "hi", group_id=None, user_id="u2")

    async def both_chats() -> None:
        await asyncio.gather(*(
            pipeline.handle_inbound(tenant_a, "mai", "qq", m.stream.stream_id, m.pk) for m in (first, second)
        ))

    # when
    async_to_sync(both_chats)()
    # then
    assert [r.text for r in replies_in(first) + replies_in(second)] == ["together", "together"]
