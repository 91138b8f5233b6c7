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


def test_a_key_without_config_write_cannot_change_config(host_a, tenant_a, make_agent, key_for):
    make_agent(tenant_a, "mai")
    client = key_client(host_a, key_for(tenant_a, "mai", scopes=("chat", "config_read")))

    response = client.put("/api/v2/agents/mai/config/agent", {"values": {"talk_frequency": 0.1}}, content_type="application/json")

    assert response.status_code == 403 and response.json()["error_code"] == "PERMISSION_DENIED"
    assert client.get("/api/v2/agents/mai/config").json()["data"]["sources"]["talk_frequency"] == "default"


def test_another_tenants_key_and_another_agents_key_see_not_found(host_a, tenant_a, tenant_b, make_agent, key_for):
    make_agent(tenant_a, "mai")
    make_agent(tenant_a, "owl")
    make_agent(tenant_b, "mai")
    tenant_b_key = key_for(tenant_b, "mai", scopes=("config_read", "config_write"))
    owl_key = key_for(tenant_a, "owl", scopes=("config_read", "config_write"))

    assert key_client(host_a, tenant_b_key).get("/api/v2/agents/mai/config").status_code == 404
    assert key_client(host_a, owl_key).get("/api/v2/agents/mai/config").status_code == 404
    assert key_client(host_a, owl_key).get("/api/v2/config/export?agent=mai").json()["data"]["agents"].keys() == {"owl"}


def test_a_key_reads_and_rolls_back_only_its_own_agents_history(member_client, host_a, tenant_a, make_agent, key_for):
    make_agent(tenant_a, "mai")
    make_agent(tenant_a, "owl")
    admin = member_client("admin")
    admin.put("/api/v2/agents/mai/config/agent", {"values": {"talk_frequency": 0.2}}, content_type="application/json")
    admin.put("/api/v2/agents/owl/config/agent", {"values": {"talk_frequency": 0.3}}, content_type="application/json")
    admin.put("/api/v2/config/tenant", {"values": {"talk_frequency": 0.4}}, content_type="application/json")
    owl_change = admin.get("/api/v2/config/history?agent=owl").json()["data"]["items"][0]
    client = key_client(host_a, key_for(tenant_a, "mai", scopes=("config_read", "config_write")))

    history = client.get("/api/v2/config/history?agent=owl").json()["data"]["items"]

    assert [(h["agent"], h["new"]) for h in history] == [("mai", 0.2)]
    assert client.post(f"/api/v2/config/history/{owl_change['id']}/rollback").status_code == 404


def test_a_platform_value_is_cleared_at_its_platform_only(member_client, agent_a):
    admin = member_client("admin")
    for platform in ("qq", "discord"):
        admin.put("/api/v2/agents/mai/config/platform", {"platform": platform, "values": {"max_reply_length": 90}}, content_type="application/json")

    admin.delete("/api/v2/agents/mai/config/platform/max_reply_length?platform=qq")

    assert admin.get("/api/v2/agents/mai/config?platform=qq").json()["data"]["sources"]["max_reply_length"] == "default"
    assert admin.get("/api/v2/agents/mai/config?platform=discord").json()["data"]["sources"]["max_reply_length"] == "platform"


def test_malformed_bodies_are_validation_errors_not_crashes(member_client, agent_a):
    admin = member_client("admin")

    answers = [
        admin.put("/api/v2/agents/mai/config/agent", [1, 2], content_type="application/json"),
        admin.put("/api/v2/agents/mai/config/platform", {"values": {"talk_frequency": 0.1}}, content_type="application/json"),
        admin.put("/api/v2/config/tenant", {"values": "loud"}, content_type="application/json"),
        admin.post("/api/v2/config/import", ["not", "an", "export"], content_type="application/json"),
        admin.put("/api/v2/agents/mai/config/agent", {"values": {"no_such_setting": 1}}, content_type="application/json"),
        admin.get("/api/v2/agents/mai/config?platform=" + "q" * 500),
    ]

    assert [a.status_code for a in answers] == [400] * 6
    assert {a.json()["error_code"] for a in answers} == {"VALIDATION_ERROR"}
    assert "platform" in answers[1].json()["errors"] and "no_such_setting" in answers[4].json()["errors"]


def test_the_schema_endpoint_describes_each_setting(member_client):
    items = member_client("viewer").get("/api/v2/config/schema").json()["data"]["items"]

    talk = next(i for i in items if i["key"] == "talk_frequency")
    assert (talk["type"], talk["default"], talk["minimum"], talk["maximum"]) == ("number", 0.5, 0, 1)
    assert next(i for i in items if i["key"] == "retention_days")["layers"] == ["tenant"]
    assert {f"models.{task}" for task in ("replyer", "planner", "utils", "embedding")} <= {i["key"] for i in items}


def test_values_and_filters_the_database_cannot_hold_are_refused_not_crashed_on(member_client, agent_a):
    admin = member_client("admin")

    answers = [
        admin.get("/api/v2/config/history?agent=%00"),
        admin.get("/api/v2/config/history?key=talk_frequency%0A"),
        admin.get("/api/v2/config/export?agent=%00"),
        admin.put("/api/v2/agents/mai/config/agent", '{"values": {"persona": "a\\u0000b"}}', content_type="application/json"),
        admin.put("/api/v2/agents/mai/config/agent", '{"values": {"blocked_users": ["a\\u0000b"]}}', content_type="application/json"),
        admin.put("/api/v2/agents/mai/config/agent", {"values": {"quiet_hours": ["23:00-07:00\n"]}}, content_type="application/json"),
        admin.put("/api/v2/agents/mai/config/platform", {"platform": "qq\n", "values": {"talk_frequency": 0.1}}, content_type="application/json"),
    ]

    assert [a.status_code for a in answers] == [400] * 7
    assert {a.json()["error_code"] for a in answers} == {"VALIDATION_ERROR"}
