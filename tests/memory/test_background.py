from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone
from django_tenants.utils import tenant_context

from agents.audit import SYSTEM
from agents.models import Agent
from chat.models import ChatStream, Message, UsageRecord
from chat.protocol import InboundMessage
from chat.services import receive_message
from maibot.celery import app as celery_app
from memory import services as memory_services
from memory import tasks
from memory.maintenance import purge_old_messages
from memory.models import HourlyStats, Memory
from memory.stats import rollup_hours
from memory.summaries import summarise_stream
from tests.chat.conftest import use_models
from tests.fakes.openai_server import Reply

SUMMARY = json.dumps({"memories": [
    {"title": "Alice's cat", "content": "Alice has a grey cat called Mochi.", "people": ["Alice"], "tags": ["pets"]},
    {"title": "Trip", "content": "The group plans a hike to Mount Tai in October.", "people": ["Bob", "Alice"], "tags": ["plans"]},
]})


def _say(agent: Agent, text: str, *, user: str = "42", nick: str = "Alice", message_id: str | None = None) -> Message:
    inbound = InboundMessage(
        platform="qq", message_id=message_id or uuid.uuid4().hex[:12], user_id=user, nickname=nick,
        group_id="9001", group_name="hikers", segment={"type": "seglist", "data": [{"type": "text", "data": text}]},
    )
    return receive_message(agent, inbound).message


@pytest.fixture
def chatty(in_tenant_a, openai_server) -> Agent:
    agent = Agent.objects.create(slug="mai", name="Mai")
    use_models(openai_server, "utils", ["fake-chat"])
    return agent


def test_a_stream_is_summarised_once_and_not_again(chatty, openai_server):
    # given a conversation and a utils model that answers two memories
    for text in ("My cat Mochi is grey", "Nice! Are we still hiking Mount Tai?", "Yes, in October"):
        _say(chatty, text)
    stream = ChatStream.objects.get()
    openai_server.queue(SUMMARY)

    # when it is summarised twice
    first = summarise_stream(stream)
    second = summarise_stream(stream)

    # then memories were made once, at chat level, from the real conversation
    assert (first.messages, first.memories) == (3, 2)
    assert second.skipped == "too_few" and second.memories == 0
    assert len(openai_server.chat_requests()) == 1
    assert "Alice: My cat Mochi is grey" in openai_server.chat_requests()[0].prompt_text
    memories = Memory.objects.order_by("title")
    assert [(m.title, m.level, m.source, m.stream_id) for m in memories] == [
        ("Alice's cat", "chat", "summarised", stream.stream_id), ("Trip", "chat", "summarised", stream.stream_id),
    ]
    assert memories[0].metadata["people"] == ["Alice"]


def test_only_new_messages_go_into_the_next_summary(chatty, openai_server):
    _say(chatty, "first batch message")
    stream = ChatStream.objects.get()
    openai_server.queue(SUMMARY, json.dumps({"memories": []}))
    summarise_stream(stream)

    _say(chatty, "a newer message")
    summarise_stream(stream)

    later_prompt = openai_server.chat_requests()[1].prompt_text
    assert "a newer message" in later_prompt and "first batch message" not in later_prompt


def test_a_failed_summary_skips_nothing(chatty, openai_server):
    _say(chatty, "remember that Carol is vegetarian")
    stream = ChatStream.objects.get()
    openai_server.queue(Reply(status=500))

    with pytest.raises(Exception):  # noqa: B017 - the LLM client's error, whichever it is
        summarise_stream(stream)
    openai_server.queue(SUMMARY)
    result = summarise_stream(stream)

    assert result.messages == 1 and result.memories == 2
    assert "Carol is vegetarian" in openai_server.chat_requests()[-1].prompt_text


def test_a_junk_answer_writes_no_memories_but_moves_on(chatty, openai_server):
    _say(chatty, "hello")
    stream = ChatStream.objects.get()
    openai_server.queue("I think it was a nice chat!")

    result = summarise_stream(stream)

    assert result.memories == 0 and Memory.objects.count() == 0
    assert summarise_stream(stream).skipped == "too_few"


def test_rollups_match_the_messages_and_usage_they_came_from(chatty):
    for text in ("one", "two", "three"):
        _say(chatty, text)
    stream = ChatStream.objects.get()
    Message.objects.create(stream=stream, direction="out", text="reply", time=timezone.now())
    for tokens_in, cost in ((100, "0.01"), (50, "0.02")):
        UsageRecord.objects.create(agent=chatty, platform="qq", task="replyer", model_name="fake-chat",
                                   tokens_in=tokens_in, tokens_out=10, cost=Decimal(cost), latency_ms=200)

    rollup_hours(timezone.now() - timedelta(hours=1))
    rollup_hours(timezone.now() - timedelta(hours=1))  # idempotent

    traffic = HourlyStats.objects.get(agent_slug="mai", model_name="")
    usage = HourlyStats.objects.get(agent_slug="mai", model_name="fake-chat")
    assert (traffic.messages_in, traffic.messages_out, traffic.replies) == (3, 1, 1)
    assert (usage.llm_calls, usage.tokens_in, usage.tokens_out, usage.cost, usage.latency_ms_total) == (2, 150, 20, Decimal("0.03"), 400)


def test_messages_past_retention_are_purged(chatty):
    old, new = _say(chatty, "old news"), _say(chatty, "fresh")
    Message.objects.filter(pk=old.pk).update(time=timezone.now() - timedelta(days=91))

    assert purge_old_messages() == 1
    assert list(Message.objects.values_list("pk", flat=True)) == [new.pk]


def test_periodic_work_skips_suspended_tenants_and_tenants_without_an_active_agent(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        agent = Agent.objects.create(slug="mai", name="Mai")
        _say(agent, "hi")

    assert tasks.active_tenants() == [tenant_a]
    tenant_a.status = tenant_a.Status.SUSPENDED
    tenant_a.save()
    assert tasks.active_tenants() == []


def test_stats_api_shows_a_tenant_only_its_own_rollups(member_client, tenant_a, tenant_b, host_b):
    with tenant_context(tenant_a):
        HourlyStats.objects.create(hour=timezone.now().replace(minute=0, second=0, microsecond=0), agent_slug="mai", messages_in=7)
    with tenant_context(tenant_b):
        assert HourlyStats.objects.count() == 0

    mine = member_client("viewer").get("/api/v2/stats/usage?by=agent").json()["data"]["rows"]
    assert [(r["agent"], r["messages_in"]) for r in mine] == [("mai", 7)]


@pytest.fixture
def worker(transactional_db):
    with start_worker(celery_app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        yield


def test_a_task_runs_in_the_tenant_that_queued_it(worker, tenant_a, tenant_b):
    # given an expired memory in each tenant (committed: the worker has its own connection)
    slug = f"bg-{uuid.uuid4().hex[:6]}"
    expired = timezone.now() - timedelta(minutes=5)
    kept = {}
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            agent = Agent.objects.create(slug=slug, name="Mai")
            [memory] = memory_services.create_memories(agent, [{"level": "agent", "title": "old", "content": "stale fact"}], actor=SYSTEM)
            Memory.objects.filter(pk=memory.pk).update(expires=expired)
            kept[tenant.slug] = memory.pk
    try:
        # when tenant A queues the expiry task
        with tenant_context(tenant_a):
            result = tasks.expire_memories_now.delay()
        removed = result.get(timeout=30)

        # then it ran in A's schema only
        assert removed == 1
        with tenant_context(tenant_a):
            assert not Memory.objects.filter(pk=kept["alpha"]).exists()
        with tenant_context(tenant_b):
            assert Memory.objects.filter(pk=kept["beta"]).exists()
    finally:
        for tenant in (tenant_a, tenant_b):
            with tenant_context(tenant):
                Agent.objects.filter(slug=slug).delete()
