from __future__ import annotations

from django_tenants.utils import tenant_context

from agents import llm_catalog
from agents.audit import Actor
from memory.models import Memory
from tests.api_fixtures import key_client


def _post(client, path, body):
    return client.post(path, body, content_type="application/json")


def test_a_memory_is_created_read_updated_searched_and_deleted(member_client, agent_a):
    member = member_client("member")

    created = _post(member, "/api/v2/memories", {"agent": "mai", "level": "agent", "title": "Alice's cat", "content": "Alice has a grey cat called Mochi.", "tags": ["Pets"]})
    memory_id = created.json()["data"]["id"]
    updated = member.patch(f"/api/v2/memories/{memory_id}", {"tags": ["pets", "alice"]}, content_type="application/json")
    found = _post(member, "/api/v2/memories/search", {"query": "what is the name of Alice's pet?", "agent": "mai", "k": 3})
    deleted = member.delete(f"/api/v2/memories/{memory_id}")

    assert created.status_code == 201 and created.json()["data"]["tags"] == ["pets"]
    assert updated.json()["data"]["tags"] == ["pets", "alice"]
    assert found.json()["data"]["items"][0]["id"] == memory_id
    assert found.json()["data"]["items"][0]["score"] > 0.3
    assert deleted.status_code == 204 and member.get(f"/api/v2/memories/{memory_id}").status_code == 404


def test_batch_create_query_and_batch_delete(member_client, agent_a):
    member = member_client("member")
    items = [{"level": "platform", "platform": "qq", "title": f"fact {n}", "content": f"fact number {n}", "tags": ["batch"]} for n in range(5)]

    created = _post(member, "/api/v2/memories/batch", {"agent": "mai", "items": items}).json()["data"]["items"]
    queried = member.get("/api/v2/memories?level=platform&platform=qq&tags=batch&page_size=2").json()["data"]
    deleted = _post(member, "/api/v2/memories/batch-delete", {"ids": [m["id"] for m in created[:3]]}).json()["data"]
    stats = member.get("/api/v2/memories/stats?agent=mai").json()["data"]

    assert len(created) == 5
    assert queried["pagination"]["total"] == 5 and len(queried["items"]) == 2
    assert deleted == {"deleted": 3}
    assert stats["by_level"]["platform"] == 2


def test_scopes_guard_reading_and_writing(host_a, tenant_a, agent_a, key_for):
    reader = key_client(host_a, key_for(tenant_a, scopes=("memory_read",)))
    writer = key_client(host_a, key_for(tenant_a, scopes=("memory_write",)))
    body = {"level": "agent", "title": "t", "content": "c"}

    assert _post(reader, "/api/v2/memories", body).status_code == 403
    assert _post(writer, "/api/v2/memories", body).status_code == 201  # agent implied by the key
    assert reader.get("/api/v2/memories").json()["data"]["pagination"]["total"] == 1
    assert writer.get("/api/v2/memories").status_code == 403


def test_another_tenants_and_another_agents_memories_are_404_and_never_found(host_a, host_b, tenant_a, tenant_b, make_agent, key_for):
    make_agent(tenant_a, "mai")
    make_agent(tenant_a, "other")
    make_agent(tenant_b, "mai")
    other_key = key_client(host_a, key_for(tenant_a, "other", scopes=("memory_read", "memory_write")))
    theirs = _post(other_key, "/api/v2/memories", {"level": "agent", "title": "secret", "content": "The vault code is 1234."}).json()["data"]["id"]
    mai = key_client(host_a, key_for(tenant_a, "mai", scopes=("memory_read", "memory_write")))
    b = key_client(host_b, key_for(tenant_b, "mai", scopes=("memory_read", "memory_write")))

    for client in (mai, b):
        assert client.get(f"/api/v2/memories/{theirs}").status_code == 404
        assert client.delete(f"/api/v2/memories/{theirs}").status_code == 404
        assert _post(client, "/api/v2/memories/search", {"query": "vault code", "k": 5}).json()["data"]["items"] == []
    with tenant_context(tenant_a):
        assert Memory.objects.filter(pk=theirs).exists()


def test_invalid_memories_come_back_field_by_field(member_client, agent_a):
    response = _post(member_client("member"), "/api/v2/memories", {"agent": "mai", "level": "chat", "title": "", "content": "x"})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"title"}


def test_aggregate_merges_chat_memories_through_the_utils_model(member_client, agent_a, tenant_a, openai_server):
    with tenant_context(tenant_a):
        actor = Actor("test")
        llm_catalog.create_provider(name="local", base_url=openai_server.url, api_key="k", actor=actor)
        llm_catalog.create_model(name="fake-chat", provider="local", identifier="fake-chat", actor=actor)
        llm_catalog.set_task_models("utils", ["fake-chat"], actor=actor)
    openai_server.queue("Dan moderates the group and prefers short messages.")
    member = member_client("member")
    items = [
        {"level": "chat", "platform": "qq", "stream_id": "s1", "title": "mod", "content": "Dan is the moderator."},
        {"level": "chat", "platform": "qq", "stream_id": "s1", "title": "style", "content": "Dan likes short messages."},
    ]
    _post(member, "/api/v2/memories/batch", {"agent": "mai", "items": items})

    merged = _post(member, "/api/v2/memories/aggregate", {"agent": "mai", "stream_id": "s1", "to_level": "platform"})

    body = merged.json()["data"]
    assert merged.status_code == 201
    assert (body["level"], body["platform"], body["source"]) == ("platform", "qq", "aggregated")
    assert body["content"] == "Dan moderates the group and prefers short messages."
    prompt = openai_server.chat_requests()[-1].prompt_text
    assert "Dan is the moderator." in prompt and "Dan likes short messages." in prompt


def test_conflicts_are_tracked_and_resolved_over_the_api(member_client, agent_a):
    member = member_client("member")

    created = _post(member, "/api/v2/memories/conflicts", {"agent": "mai", "title": "Nurse or chef?", "context": "Bob said both."}).json()["data"]
    resolved = _post(member, f"/api/v2/memories/conflicts/{created['id']}/resolve", {"resolution": "He changed jobs."}).json()["data"]
    open_ones = member.get("/api/v2/memories/conflicts?resolved=false").json()["data"]["items"]

    assert resolved["resolved"] is True and resolved["resolution"] == "He changed jobs."
    assert open_ones == []
