from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from agents import config
from agents.audit import Actor
from agents.models import Agent
from maibot.errors import LimitReached
from memory import services
from memory.models import Memory

ACTOR = Actor("user:admin@example.com")

FACTS = [
    ("Alice's cat", "Alice has a grey cat called Mochi who sleeps on her keyboard."),
    ("Bob's job", "Bob works as a night-shift nurse at the city hospital."),
    ("Group trip", "The group plans a hiking trip to Mount Tai in October."),
    ("Carol's diet", "Carol is vegetarian and does not eat fish."),
    ("Server outage", "The game server was down last Friday because the disk filled up."),
]


@pytest.fixture
def mai(in_tenant_a) -> Agent:
    return Agent.objects.create(slug="mai", name="Mai")


def _remember(agent: Agent, facts=FACTS, **scope) -> list[Memory]:
    scope = scope or {"level": "agent"}
    return services.create_memories(agent, [{"title": t, "content": c, **scope} for t, c in facts], actor=ACTOR)


def test_search_ranks_the_relevant_memory_first_with_a_score(mai):
    _remember(mai)

    hits = services.search(Memory.objects.filter(agent=mai), "what pet does Alice have?", agent=mai, k=3)

    assert hits[0].title == "Alice's cat"
    assert hits[0].score > hits[1].score
    assert 0 < hits[0].score <= 1


def test_a_filtered_search_still_returns_k_results(mai):
    # given many memories where only a few match the filter, so HNSW alone would miss some
    many = [(f"note {n}", f"Unrelated note number {n} about the weather and trains.") for n in range(120)]
    _remember(mai, many[:60])
    _remember(mai, many[60:])
    tagged = services.create_memories(
        mai, [{"title": f"tagged {n}", "content": f"A tagged fact {n} about cooking noodles.", "level": "agent", "tags": ["food"]} for n in range(8)],
        actor=ACTOR,
    )

    # when
    hits = services.search(Memory.objects.filter(agent=mai), "weather and trains", agent=mai, k=8, tags=["food"])

    # then
    assert len(hits) == 8
    assert {h.id for h in hits} == {m.pk for m in tagged}


def test_chat_scope_falls_back_to_platform_then_agent(mai):
    _remember(mai, [("chat fact", "In this group, Dan is the moderator.")], level="chat", platform="qq", stream_id="s1")
    _remember(mai, [("other chat", "In another group, Eve is the moderator.")], level="chat", platform="qq", stream_id="s2")
    _remember(mai, [("platform fact", "On QQ, people use stickers a lot.")], level="platform", platform="qq")
    _remember(mai, [("agent fact", "Mai likes to talk about moderators.")], level="agent")

    hits = services.search_in_scope(mai, "who is the moderator", platform="qq", stream_id="s1", k=3)

    assert [h.title for h in hits] == ["chat fact", "platform fact", "agent fact"]


def test_memories_of_another_agent_and_tenant_are_never_found(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        mai, other = Agent.objects.create(slug="mai", name="Mai"), Agent.objects.create(slug="other", name="O")
        _remember(other)
        assert services.search(Memory.objects.filter(agent=mai), "Alice's cat", agent=mai, k=5) == []
        assert services.search_for_reply(mai, "qq", "s1", "Alice's cat") == []
    with tenant_context(tenant_b):
        b_mai = Agent.objects.create(slug="mai", name="Mai")
        assert services.search(Memory.objects.all(), "Alice's cat", agent=b_mai, k=5) == []
        assert Memory.objects.count() == 0


def test_search_for_reply_obeys_memory_enabled_and_top_k(mai):
    _remember(mai)

    config.set_config_value("agent", "memory_top_k", 2, agent=mai, actor=ACTOR)
    limited = services.search_for_reply(mai, "qq", "s1", "Tell me about Alice's cat")
    config.set_config_value("agent", "memory_enabled", False, agent=mai, actor=ACTOR)
    disabled = services.search_for_reply(mai, "qq", "s1", "Tell me about Alice's cat")

    assert 1 <= len(limited) <= 2 and limited[0].title == "Alice's cat"
    assert disabled == []


def test_expired_memories_are_not_found_and_are_removed(mai):
    [old] = _remember(mai, [FACTS[0]])
    Memory.objects.filter(pk=old.pk).update(expires=timezone.now() - timedelta(minutes=1))

    found = services.search(Memory.objects.filter(agent=mai), "Alice's cat", agent=mai, k=5)
    removed = services.expire_memories()

    assert found == []
    assert removed == 1 and not Memory.objects.filter(pk=old.pk).exists()


def test_scope_must_fit_the_level(mai):
    with pytest.raises(ValidationError) as refused:
        services.create_memory(mai, title="t", content="c", level="chat", platform="qq", actor=ACTOR)
    assert "stream_id" in refused.value.message_dict


def test_a_batch_with_one_bad_item_writes_nothing(mai):
    with pytest.raises(ValidationError) as refused:
        services.create_memories(mai, [{"title": "ok", "content": "fine", "level": "agent"}, {"title": "", "content": "x", "level": "agent"}], actor=ACTOR)

    assert "items[1].title" in refused.value.message_dict
    assert Memory.objects.count() == 0


def test_the_plans_memory_limit_is_enforced(mai, tenant_a):
    tenant_a.plan.max_memories = 2
    tenant_a.plan.save()
    try:
        with pytest.raises(LimitReached):
            _remember(mai)
        assert Memory.objects.count() == 0
    finally:
        tenant_a.plan.max_memories = 100_000
        tenant_a.plan.save()


def test_updating_the_content_re_embeds_it(mai):
    [memory] = _remember(mai, [FACTS[1]])

    services.update_memory(memory, {"content": "Bob now works as a chef in a noodle restaurant."}, actor=ACTOR)

    hits = services.search(Memory.objects.filter(agent=mai), "who cooks noodles", agent=mai, k=1)
    assert hits[0].id == memory.pk and hits[0].score > 0.3


def test_stats_count_memories_per_level(mai):
    _remember(mai, FACTS[:2])
    _remember(mai, FACTS[2:3], level="platform", platform="qq")

    stats = services.memory_stats(Memory.objects.filter(agent=mai))

    assert stats["by_level"] == {"agent": 2, "platform": 1, "chat": 0}
    assert stats["total"] == 3


def test_a_conflict_is_tracked_then_resolved(mai):
    conflict = services.create_conflict(mai, title="Is Bob a nurse or a chef?", context="He said both.", actor=ACTOR)

    services.resolve_conflict(conflict, resolution="He changed jobs in May.", actor=ACTOR)

    conflict.refresh_from_db()
    assert conflict.resolved and not conflict.following and conflict.resolved_at is not None
