from __future__ import annotations

from django_tenants.utils import tenant_context

from agents import config
from agents.audit import Actor
from tests.api_fixtures import key_client


def test_the_effective_config_names_each_values_layer(member_client, agent_a, tenant_a):
    admin = member_client("admin")

    admin.put("/api/v2/config/tenant", {"values": {"talk_frequency": 0.3}}, content_type="application/json")
    admin.put("/api/v2/agents/mai/config/platform", {"platform": "qq", "values": {"max_reply_length": 60}}, content_type="application/json")
    body = admin.get("/api/v2/agents/mai/config?platform=qq").json()["data"]

    assert body["values"]["talk_frequency"] == 0.3 and body["sources"]["talk_frequency"] == "tenant"
    assert body["values"]["max_reply_length"] == 60 and body["sources"]["max_reply_length"] == "platform"


def test_invalid_values_come_back_field_by_field(member_client, agent_a):
    response = member_client("admin").put(
        "/api/v2/agents/mai/config/agent", {"values": {"talk_frequency": -1, "memory_top_k": "many"}}, content_type="application/json"
    )

    body = response.json()
    assert response.status_code == 400 and body["error_code"] == "VALIDATION_ERROR"
    assert set(body["errors"]) == {"talk_frequency", "memory_top_k"}


def test_history_and_rollback_over_the_api(member_client, agent_a):
    admin = member_client("admin")
    admin.put("/api/v2/agents/mai/config/agent", {"values": {"context_messages": 10}}, content_type="application/json")
    admin.put("/api/v2/agents/mai/config/agent", {"values": {"context_messages": 30}}, content_type="application/json")
    history = admin.get("/api/v2/config/history?agent=mai&key=context_messages").json()["data"]["items"]

    rolled = admin.post(f"/api/v2/config/history/{history[0]['id']}/rollback")

    assert [h["new"] for h in history] == [30, 10]
    assert rolled.status_code == 201
    assert admin.get("/api/v2/agents/mai/config").json()["data"]["values"]["context_messages"] == 10


def test_viewers_read_but_cannot_change_config(member_client, agent_a):
    viewer = member_client("viewer")

    assert viewer.get("/api/v2/agents/mai/config").status_code == 200
    response = viewer.put("/api/v2/agents/mai/config/agent", {"values": {"talk_frequency": 1}}, content_type="application/json")
    assert response.status_code == 403


def test_a_config_key_changes_only_its_own_agent_and_never_the_tenant_layer(host_a, tenant_a, make_agent, key_for):
    make_agent(tenant_a, "mai")
    make_agent(tenant_a, "other")
    client = key_client(host_a, key_for(tenant_a, "mai", scopes=("config_read", "config_write")))

    own = client.put("/api/v2/agents/mai/config/agent", {"values": {"talk_frequency": 0.1}}, content_type="application/json")
    other = client.put("/api/v2/agents/other/config/agent", {"values": {"talk_frequency": 0.1}}, content_type="application/json")
    tenant_layer = client.put("/api/v2/config/tenant", {"values": {"talk_frequency": 0.1}}, content_type="application/json")

    assert (own.status_code, other.status_code, tenant_layer.status_code) == (200, 404, 403)


def test_another_tenants_history_entry_is_not_found(member_client, agent_a, tenant_b, make_agent):
    make_agent(tenant_b, "mai")
    with tenant_context(tenant_b):
        from agents.models import Agent

        change = config.set_config_value("agent", "talk_frequency", 0.2, agent=Agent.objects.get(slug="mai"), actor=Actor("b"))

    assert member_client("admin").post(f"/api/v2/config/history/{change.pk}/rollback").status_code == 404


def test_export_and_import_round_trip_over_the_api(member_client, agent_a):
    admin = member_client("admin")
    admin.put("/api/v2/agents/mai/config/agent", {"values": {"memory_enabled": False}}, content_type="application/json")
    exported = admin.get("/api/v2/config/export").json()["data"]
    admin.delete("/api/v2/agents/mai/config/agent/memory_enabled")

    imported = admin.post("/api/v2/config/import", exported, content_type="application/json")

    assert imported.json()["data"]["written"] >= 1
    assert admin.get("/api/v2/agents/mai/config").json()["data"]["values"]["memory_enabled"] is False


def test_config_changes_land_in_the_audit_log_with_the_request_id(member_client, agent_a):
    admin = member_client("admin")

    admin.put("/api/v2/agents/mai/config/agent", {"values": {"talk_frequency": 0.2}}, content_type="application/json", HTTP_X_REQUEST_ID="cfg-1")

    entry = admin.get("/api/v2/audit?object_type=config").json()["data"]["items"][0]
    assert (entry["action"], entry["object_id"], entry["request_id"]) == ("config.set", "agent:mai:-:talk_frequency", "cfg-1")
    assert entry["changes"] == {"old": None, "new": 0.2}
