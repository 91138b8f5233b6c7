"""Usage charts and gauges, chat history and memory pages, each showing only the tenant's own data."""
from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import ChatStream, Message, UsageRecord
from memory.models import Conflict, Memory
from tests.chat.conftest import forget_chat_counters


@pytest.fixture
def fresh_counters(tenant_a, tenant_b) -> Iterator[None]:
    """Quota counters in Redis rebuilt from this test's rows, and forgotten afterwards."""
    forget_chat_counters(tenant_a, tenant_b)
    yield
    forget_chat_counters(tenant_a, tenant_b)


def _usage(agent, model: str, tokens_in: int, tokens_out: int) -> None:  # noqa: ANN001
    UsageRecord.objects.create(agent=agent, platform="qq", task="replyer", model_name=model, tokens_in=tokens_in,
                               tokens_out=tokens_out, cost=Decimal("0.01"), latency_ms=300)


def _bars(html: str, chart: str) -> dict[str, str]:
    block = re.search(rf'data-testid="chart-{chart}">(.*?)</svg>', html, re.S).group(1)
    return dict(re.findall(r'data-day="([^"]+)" data-value="([^"]+)"', block))


def test_usage_shows_todays_tokens_on_the_chart_and_the_gauge_and_nothing_of_tenant_b(
    member_client, agent_a, agent_b, tenant_a, tenant_b, fresh_counters,
):
    with tenant_context(tenant_a):
        _usage(agent_a, "model-a", 100, 20)
    with tenant_context(tenant_b):
        _usage(agent_b, "model-b", 5000, 5000)

    html = member_client("viewer").get("/usage/").content.decode()

    bars = _bars(html, "tokens_in")
    assert len(bars) == 14 and bars[timezone.localdate().isoformat()] == "100"
    assert sum(float(v) for v in bars.values()) == 100
    assert re.search(r'data-testid="gauge-daily_tokens">.*?120 of', html, re.S)
    assert "model-a" in html and "model-b" not in html


def test_usage_can_be_narrowed_to_one_agent_but_not_to_another_tenants(member_client, agent_a, tenant_a, fresh_counters, make_agent, tenant_b):
    make_agent(tenant_b, "only-in-b")
    with tenant_context(tenant_a):
        _usage(agent_a, "model-a", 100, 20)
    viewer = member_client("viewer")

    assert _bars(viewer.get("/usage/", {"agent": "mai"}).content.decode(), "tokens_in")[timezone.localdate().isoformat()] == "100"
    assert viewer.get("/usage/", {"agent": "only-in-b"}).status_code == 404


@pytest.fixture
def group_chat(agent_a, tenant_a) -> ChatStream:
    with tenant_context(tenant_a):
        stream = ChatStream.objects.create(stream_id="a" * 64, agent=agent_a, platform="qq", group_id="777", group_name="Tea club")
        now = timezone.now()
        for n in range(60):
            Message.objects.create(stream=stream, platform_message_id=f"m{n}", direction="in", text=f"message number {n}", time=now)
        Message.objects.create(stream=stream, platform_message_id="x", direction="in", text="the oolong is ready", time=now)
    return stream


def test_chat_history_pages_newest_first_and_searches(member_client, group_chat):
    viewer = member_client("viewer")

    first = viewer.get(f"/chats/{group_chat.stream_id}/").content.decode()
    second = viewer.get(f"/chats/{group_chat.stream_id}/", {"page": "2"}).content.decode()
    found = viewer.get(f"/chats/{group_chat.stream_id}/", {"q": "oolong"}).content.decode()

    assert "the oolong is ready" in first and "message number 0<" not in first and "page 1 of 2" in first
    assert "message number 0<" in second
    assert "the oolong is ready" in found and "message number" not in found


def test_the_chat_list_shows_streams_per_agent_and_platform(member_client, group_chat):
    viewer = member_client("viewer")

    listed = viewer.get("/chats/", {"agent": "mai", "platform": "qq"}).content.decode()
    other_platform = viewer.get("/chats/", {"platform": "discord"}).content.decode()

    assert "Tea club" in listed and ">61<" in listed
    assert "Tea club" not in other_platform and "No chats yet" in other_platform


def test_memory_is_browsed_by_level_edited_and_deleted_by_members(member_client, agent_a, tenant_a):
    with tenant_context(tenant_a):
        kept = Memory.objects.create(agent=agent_a, level="agent", title="Likes tea", content="Mai likes oolong tea.")
        gone = Memory.objects.create(agent=agent_a, level="platform", platform="qq", title="QQ habit", content="Short replies on QQ.")
        conflict = Conflict.objects.create(agent=agent_a, title="Which tea?", context="oolong or green")
    member = member_client("member")

    agent_level = member.get("/memory/", {"agent": "mai", "level": "agent"}).content.decode()
    member.post(f"/memory/{kept.pk}/edit/", {"title": "Likes tea", "content": "Mai likes green tea now.", "tags": "tea, taste"})
    member.post(f"/memory/{gone.pk}/delete/")
    member.post(f"/memory/conflicts/{conflict.pk}/resolve/", {"resolution": "green since June"})
    searched = member.get("/memory/", {"agent": "mai", "q": "which tea does Mai drink?"}).content.decode()

    assert "Likes tea" in agent_level and "QQ habit" not in agent_level and "Which tea?" in agent_level
    with tenant_context(tenant_a):
        kept.refresh_from_db()
        conflict.refresh_from_db()
        assert (kept.content, kept.tags) == ("Mai likes green tea now.", ["tea", "taste"])
        assert not Memory.objects.filter(pk=gone.pk).exists() and conflict.resolved
    assert re.search(r'data-testid="hits">.*?Mai likes green tea now', searched, re.S)


def test_a_viewer_cannot_change_memories(member_client, agent_a, tenant_a):
    with tenant_context(tenant_a):
        memory = Memory.objects.create(agent=agent_a, level="agent", title="Likes tea", content="Mai likes oolong tea.")
    viewer = member_client("viewer")

    page = viewer.get("/memory/").content.decode()
    edit = viewer.post(f"/memory/{memory.pk}/edit/", {"title": "x", "content": "y"})
    delete = viewer.post(f"/memory/{memory.pk}/delete/")

    assert "Likes tea" in page and ">Delete<" not in page and ">Edit<" not in page
    assert (edit.status_code, delete.status_code) == (403, 403)
    with tenant_context(tenant_a):
        assert Memory.objects.get(pk=memory.pk).content == "Mai likes oolong tea."
