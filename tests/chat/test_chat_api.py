"""The HTTP chat API: the same pipeline over POST /api/v2/chat, streaming, history, usage."""
from __future__ import annotations

import json
from collections.abc import Callable

from asgiref.sync import async_to_sync
from django.test import Client
from django_tenants.utils import tenant_context

from agents.audit import SYSTEM
from agents.config import set_config_value
from agents.models import Agent
from chat.models import Message
from tenants.models import Tenant
from tests.api_fixtures import key_client
from tests.chat.conftest import give_plan
from tests.fakes.openai_server import FakeOpenAI, Reply

PRIVATE = {"platform": "web", "user": {"id": "u1", "nickname": "Alice"}, "message": "hello there"}
GROUP = {**PRIVATE, "group_id": "g1", "group_name": "Team"}


def post(client: Client, path: str, body: dict) -> object:
    return client.post(f"/api/v2/{path}", data=json.dumps(body), content_type="application/json")


def sse_events(response) -> list[tuple[str, dict]]:
    """The events of a server-sent-events answer, read to the end as a client would."""

    async def read_all() -> list[bytes]:
        return [chunk async for chunk in response.streaming_content]

    raw = b"".join(async_to_sync(read_all)()).decode()
    events = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_a_private_message_gets_the_agents_reply_and_decision(
    mai: Agent, host_a: str, key_for: Callable[..., str], openai_server: FakeOpenAI, tenant_a: Tenant
) -> None:
    # given
    openai_server.reply_for_model("talker-id", "Hi Alice!")
    client = key_client(host_a, key_for(tenant_a, "mai", scopes=("chat",)))
    # when
    response = post(client, "chat", PRIVATE)
    # then
    body = response.json()
    assert response.status_code == 200, body
    assert body["data"]["reply"] == "Hi Alice!"
    assert body["data"]["decision"] == {"action": "reply", "reason": "private chat", "source": "rule",
                                        "stage": "planner"}
    assert "hello there" in openai_server.chat_requests("talker-id")[0].prompt_text
    with tenant_context(tenant_a):
        reply = Message.objects.get(direction="out")
    assert (reply.text, reply.delivery) == ("Hi Alice!", Message.Delivery.LOCAL)


def test_a_plain_group_message_with_talk_frequency_zero_gets_no_reply(
    mai: Agent, host_a: str, key_for: Callable[..., str], openai_server: FakeOpenAI, tenant_a: Tenant
) -> None:
    with tenant_context(tenant_a):
        set_config_value("agent", "talk_frequency", 0, agent=mai, actor=SYSTEM)
    client = key_client(host_a, key_for(tenant_a, "mai", scopes=("chat",)))
    body = post(client, "chat", GROUP).json()
    assert body["data"]["reply"] is None
    assert body["data"]["decision"]["action"] == "silent"
    assert openai_server.chat_requests() == []


def test_the_streaming_variant_sends_deltas_then_the_outcome(
    mai: Agent, host_a: str, key_for: Callable[..., str], openai_server: FakeOpenAI, tenant_a: Tenant
) -> None:
    openai_server.reply_for_model("talker-id", "one two three")
    client = key_client(host_a, key_for(tenant_a, "mai", scopes=("chat",)))
    response = post(client, "chat/stream", PRIVATE)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    events = sse_events(response)
    assert [kind for kind, _ in events] == ["delta", "delta", "delta", "done"]
    assert "".join(data["text"] for kind, data in events if kind == "delta") == "one two three"
    assert events[-1][1]["reply"] == "one two three"


def test_sending_the_same_message_id_again_returns_the_first_answer(
    mai: Agent, host_a: str, key_for: Callable[..., str], openai_server: FakeOpenAI, tenant_a: Tenant
) -> None:
    client = key_client(host_a, key_for(tenant_a, "mai", scopes=("chat",)))
    first = post(client, "chat", {**PRIVATE, "message_id": "m-1"}).json()["data"]
    again = post(client, "chat", {**PRIVATE, "message_id": "m-1"}).json()["data"]
    assert again["reply"] == first["reply"] and again["repeated"] is True
    assert len(openai_server.chat_requests()) == 1


def test_an_exceeded_quota_answers_quota_exceeded_without_asking_a_model(
    mai: Agent, host_a: str, key_for: Callable[..., str], openai_server: FakeOpenAI, tenant_a: Tenant
) -> None:
    give_plan(tenant_a, daily_tokens=5)
    client = key_client(host_a, key_for(tenant_a, "mai", scopes=("chat",)))
    response = post(client, "chat", PRIVATE)
    assert (response.status_code, response.json()["error_code"]) == (403, "QUOTA_EXCEEDED")
    assert openai_server.chat_requests() == []


def test_no_model_answering_is_a_503(
    mai: Agent, host_a: str, key_for: Callable[..., str], openai_server: FakeOpenAI, tenant_a: Tenant
) -> None:
    openai_server.reply_for_model("talker-id", Reply(status=500))
    client = key_client(host_a, key_for(tenant_a, "mai", scopes=("chat",)))
    response = post(client, "chat", PRIVATE)
    assert (response.status_code, response.json()["error_code"]) == (503, "LLM_UNAVAILABLE")


def test_bad_bodies_get_field_errors(mai: Agent, host_a: str, key_for: Callable[..., str], tenant_a: Tenant) -> None:
    client = key_client(host_a, key_for(tenant_a, "mai", scopes=("chat",)))
    response = post(client, "chat", {"platform": "Not A Platform!", "user": {}, "message": ""})
    body = response.json()
    assert (response.status_code, body["error_code"]) == (400, "VALIDATION_ERROR")
    assert set(body["errors"]) >= {"platform", "user", "message"}


def test_a_key_without_the_chat_scope_is_refused(
    mai: Agent, host_a: str, key_for: Callable[..., str], tenant_a: Tenant
) -> None:
    client = key_client(host_a, key_for(tenant_a, "mai", scopes=("config_read",)))
    response = post(client, "chat", PRIVATE)
    assert (response.status_code, response.json()["error_code"]) == (403, "PERMISSION_DENIED")


def test_no_credentials_is_401(mai: Agent, host_a: str) -> None:
    response = post(Client(HTTP_HOST=host_a), "chat", PRIVATE)
    assert (response.status_code, response.json()["error_code"]) == (401, "AUTHENTICATION_FAILED")


def test_another_tenants_key_on_this_host_is_404(
    mai: Agent, host_a: str, key_for: Callable[..., str], tenant_b: Tenant
) -> None:
    with tenant_context(tenant_b):
        Agent.objects.create(slug="mai", name="Mai")
    client = key_client(host_a, key_for(tenant_b, "mai", scopes=("chat",)))
    assert post(client, "chat", PRIVATE).status_code == 404
    assert client.get("/api/v2/chat/history", {"platform": "web", "user_id": "u1"}).status_code == 404


def test_history_lists_a_chats_messages_newest_first(
    mai: Agent, host_a: str, key_for: Callable[..., str], openai_server: FakeOpenAI, tenant_a: Tenant
) -> None:
    openai_server.reply_for_model("talker-id", "Hi!")
    client = key_client(host_a, key_for(tenant_a, "mai", scopes=("chat",)))
    post(client, "chat", PRIVATE)
    response = client.get("/api/v2/chat/history", {"platform": "web", "user_id": "u1", "page_size": 1})
    data = response.json()["data"]
    assert response.status_code == 200
    assert [(m["direction"], m["text"]) for m in data["items"]] == [("out", "Hi!")]
    assert data["pagination"]["total"] == 2 and data["pagination"]["has_next"] is True
    second = client.get("/api/v2/chat/history", {"platform": "web", "user_id": "u1", "page_size": 1, "page": 2})
    [inbound] = second.json()["data"]["items"]
    assert inbound["sender"] == {"user_id": "u1", "nickname": "Alice", "cardname": ""}


def test_history_of_an_unknown_chat_is_404_and_tenant_b_never_sees_a(
    mai: Agent, host_a: str, host_b: str, key_for: Callable[..., str], openai_server: FakeOpenAI,
    tenant_a: Tenant, tenant_b: Tenant,
) -> None:
    # given: A's agent talked with u1 on web; B has an agent with the same slug
    post(key_client(host_a, key_for(tenant_a, "mai", scopes=("chat",))), "chat", PRIVATE)
    with tenant_context(tenant_b):
        Agent.objects.create(slug="mai", name="Mai")
    client_b = key_client(host_b, key_for(tenant_b, "mai", scopes=("chat",)))
    # then: the same chat coordinates are unknown in B
    assert client_b.get("/api/v2/chat/history", {"platform": "web", "user_id": "u1"}).status_code == 404
    client_a = key_client(host_a, key_for(tenant_a, "mai", scopes=("chat",)))
    assert client_a.get("/api/v2/chat/history", {"platform": "web", "user_id": "nobody"}).status_code == 404


def test_a_key_of_another_agent_cannot_read_this_agents_chats(
    mai: Agent, host_a: str, key_for: Callable[..., str], tenant_a: Tenant
) -> None:
    post(key_client(host_a, key_for(tenant_a, "mai", scopes=("chat",))), "chat", PRIVATE)
    with tenant_context(tenant_a):
        Agent.objects.create(slug="other", name="Other")
    other = key_client(host_a, key_for(tenant_a, "other", scopes=("chat",)))
    assert other.get("/api/v2/chat/history", {"platform": "web", "user_id": "u1", "agent": "mai"}).status_code == 404


def test_a_dashboard_member_chats_by_naming_the_agent(
    mai: Agent, member_client: Callable[..., Client], openai_server: FakeOpenAI
) -> None:
    client = member_client("member")
    missing = post(client, "chat", PRIVATE)
    named = post(client, "chat", {**PRIVATE, "agent": "mai"})
    assert (missing.status_code, missing.json()["errors"]) == (400, {"agent": ["Give an agent slug."]})
    assert named.status_code == 200 and named.json()["data"]["reply"] == "Hello from the test model."


def test_usage_shows_todays_tokens_against_the_plan(
    mai: Agent, host_a: str, key_for: Callable[..., str], openai_server: FakeOpenAI, tenant_a: Tenant
) -> None:
    openai_server.reply_for_model("talker-id", Reply(text="ok", tokens_in=40, tokens_out=2))
    post(key_client(host_a, key_for(tenant_a, "mai", scopes=("chat",))), "chat", PRIVATE)
    response = key_client(host_a, key_for(tenant_a, "mai", scopes=("config_read",))).get("/api/v2/usage")
    summary = response.json()["data"]["summary"]
    assert response.status_code == 200
    assert (summary["tokens_today"], summary["requests_today"], summary["level"]) == (42, 1, "ok")
    assert summary["limits"]["daily_tokens"] == 1_000_000
