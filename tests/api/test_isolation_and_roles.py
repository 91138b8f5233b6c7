from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from agents.models import Agent
from tenants import apikeys
from tests.api_fixtures import key_client


def test_tenant_bs_key_on_tenant_as_host_is_not_found(host_a, agent_a, agent_b, tenant_b, key_for):
    response = key_client(host_a, key_for(tenant_b)).get("/api/v2/agents/mai")

    assert response.status_code == 404
    assert response.json()["error_code"] == "NOT_FOUND"


def test_a_key_on_the_public_host_reaches_only_its_own_tenant(agent_a, agent_b, tenant_a, tenant_b, key_for):
    with tenant_context(tenant_b):
        Agent.objects.filter(slug="mai").update(name="B's Mai")

    body = key_client("localhost", key_for(tenant_b)).get("/api/v2/agents/mai").json()

    assert body["data"]["name"] == "B's Mai"
    assert body["tenant_id"] == tenant_b.slug


def test_another_agents_key_sees_neither_the_agent_nor_its_keys(host_a, tenant_a, make_agent, key_for):
    make_agent(tenant_a, "mai")
    make_agent(tenant_a, "other")
    client = key_client(host_a, key_for(tenant_a, "mai", scopes=("config_read", "admin")))

    assert client.get("/api/v2/agents/other").status_code == 404
    assert client.get("/api/v2/agents/other/keys").status_code == 404
    assert [a["slug"] for a in client.get("/api/v2/agents").json()["data"]["items"]] == ["mai"]


def test_a_member_of_tenant_a_gets_404_on_tenant_bs_host(member_client, host_b, agent_b):
    client = member_client("owner", host=host_b)  # a member of A only, typing B's host

    assert client.get("/api/v2/agents").status_code == 404
    assert client.get("/api/v2/agents/mai").status_code == 404


def test_tenant_bs_key_ids_are_not_found_from_tenant_a(member_client, agent_a, agent_b, tenant_b):
    b_key = apikeys.issue_api_key(tenant_b, "mai", name="b", scopes=["chat"]).key

    response = member_client("owner").post(f"/api/v2/agents/mai/keys/{b_key.pk}/revoke")

    assert response.status_code == 404
    b_key.refresh_from_db()
    assert b_key.revoked_at is None


@pytest.mark.parametrize(
    ("role", "read", "update", "manage_keys", "delete"),
    [
        ("viewer", 200, 403, 403, 403),
        ("member", 200, 403, 403, 403),
        ("admin", 200, 200, 201, 403),
        ("owner", 200, 200, 201, 204),
    ],
)
def test_each_role_can_do_what_its_rank_allows(member_client, agent_a, role, read, update, manage_keys, delete):
    client = member_client(role)

    assert client.get("/api/v2/agents/mai").status_code == read
    assert client.patch("/api/v2/agents/mai", {"name": "Renamed"}, content_type="application/json").status_code == update
    assert client.post("/api/v2/agents/mai/keys", {"name": "k", "scopes": ["chat"]}, content_type="application/json").status_code == manage_keys
    assert client.delete("/api/v2/agents/mai").status_code == delete


def test_a_refused_write_changes_nothing(member_client, agent_a, tenant_a):
    response = member_client("viewer").patch("/api/v2/agents/mai", {"name": "Hacked"}, content_type="application/json")

    assert response.json()["error_code"] == "PERMISSION_DENIED"
    with tenant_context(tenant_a):
        assert Agent.objects.get(slug="mai").name == "Mai"


def test_a_key_without_the_scope_is_refused(host_a, agent_a, tenant_a, key_for):
    client = key_client(host_a, key_for(tenant_a, scopes=("chat",)))

    response = client.get("/api/v2/agents/mai")

    assert response.status_code == 403
    assert "config_read" in response.json()["message"]


def test_a_config_write_key_updates_its_own_agent(host_a, agent_a, tenant_a, key_for):
    client = key_client(host_a, key_for(tenant_a, scopes=("config_read", "config_write")))

    response = client.patch("/api/v2/agents/mai", {"persona": "A calm cat."}, content_type="application/json")

    assert response.status_code == 200
    assert response.json()["data"]["persona"] == "A calm cat."


def test_the_tenant_in_the_body_is_ignored(member_client, tenant_b):
    client = member_client("admin")

    client.post("/api/v2/agents", {"slug": "sneaky", "name": "S", "tenant": tenant_b.slug}, content_type="application/json")

    with tenant_context(tenant_b):
        assert not Agent.objects.filter(slug="sneaky").exists()


def test_an_anonymous_caller_on_the_public_host_is_refused(agent_a):
    assert Client(HTTP_HOST="localhost").get("/api/v2/agents").status_code == 401
