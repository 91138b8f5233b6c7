from __future__ import annotations

from django_tenants.utils import tenant_context

from agents.models import Agent, AuditEntry


def test_an_agent_is_created_read_updated_and_deleted(member_client, tenant_a):
    owner = member_client("owner")

    created = owner.post(
        "/api/v2/agents",
        {"slug": "mai", "name": "Mai", "persona": "A cat.", "platform_accounts": {"qq": "10001"}},
        content_type="application/json",
    )
    updated = owner.patch("/api/v2/agents/mai", {"reply_style": "Short.", "is_active": False}, content_type="application/json")
    deleted = owner.delete("/api/v2/agents/mai")

    assert created.status_code == 201 and created.json()["data"]["platform_accounts"] == {"qq": "10001"}
    assert updated.json()["data"]["reply_style"] == "Short." and updated.json()["data"]["is_active"] is False
    assert deleted.status_code == 204
    assert owner.get("/api/v2/agents/mai").status_code == 404


def test_an_agent_is_created_from_a_template(member_client):
    admin = member_client("admin")
    templates = admin.get("/api/v2/templates").json()["data"]

    response = admin.post(
        "/api/v2/agents/from-template", {"template": "quiet-observer", "slug": "owl"}, content_type="application/json"
    )

    assert {t["key"] for t in templates} >= {"friendly-group-member", "concise-assistant", "quiet-observer"}
    assert response.status_code == 201
    assert response.json()["data"]["name"] == "Quiet observer"
    assert "listens" in response.json()["data"]["persona"]


def test_an_unknown_template_is_a_field_error(member_client):
    response = member_client("admin").post(
        "/api/v2/agents/from-template", {"template": "pirate", "slug": "arr"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "template" in response.json()["errors"]


def test_a_clone_copies_persona_and_accounts_under_a_new_slug(member_client, agent_a, tenant_a):
    response = member_client("admin").post("/api/v2/agents/mai/clone", {"slug": "mai-2"}, content_type="application/json")

    assert response.status_code == 201
    with tenant_context(tenant_a):
        clone = Agent.objects.get(slug="mai-2")
        assert clone.platform_accounts == {"qq": "10001"}
        assert clone.name == "Mai (copy)"


def test_the_plans_agent_limit_is_enforced(member_client, tenant_a, make_agent):
    limit = tenant_a.plan.max_agents
    for n in range(limit):
        make_agent(tenant_a, f"bot-{n}")

    response = member_client("admin").post("/api/v2/agents", {"slug": "one-more", "name": "X"}, content_type="application/json")

    assert response.status_code == 403
    assert response.json()["error_code"] == "QUOTA_EXCEEDED"
    with tenant_context(tenant_a):
        assert Agent.objects.count() == limit


def test_every_change_is_audited_with_actor_and_request_id(member_client, tenant_a, tenant_b):
    admin = member_client("admin")

    admin.post("/api/v2/agents", {"slug": "mai", "name": "Mai"}, content_type="application/json", HTTP_X_REQUEST_ID="req-create")
    admin.patch("/api/v2/agents/mai", {"name": "Mai II"}, content_type="application/json")
    admin.post("/api/v2/agents/mai/keys", {"name": "k", "scopes": ["chat"]}, content_type="application/json")
    log = admin.get("/api/v2/audit?object_type=agent").json()["data"]["items"]

    assert [e["action"] for e in log] == ["agent.update", "agent.create"]
    assert log[0]["changes"] == {"name": {"old": "Mai", "new": "Mai II"}}
    assert log[1]["request_id"] == "req-create"
    assert log[1]["actor"].startswith("user:admin-")
    with tenant_context(tenant_a):
        assert AuditEntry.objects.filter(action="key.create").count() == 1
    with tenant_context(tenant_b):
        assert AuditEntry.objects.count() == 0


def test_the_audit_log_is_for_admins(member_client):
    assert member_client("member").get("/api/v2/audit").status_code == 403
