"""Agents, their keys and their config in the dashboard (Django test client, tenant A's host)."""
from __future__ import annotations

import re

from django_tenants.utils import tenant_context

from agents.models import Agent, ConfigChange
from tenants.models import ApiKey


def _row(html: str, key: str) -> str:
    match = re.search(rf'<tr data-key="{re.escape(key)}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {key}"
    return match.group(1)


def _value_and_layer(html: str, key: str) -> tuple[str, str]:
    row = _row(html, key)
    value = re.search(r'data-testid="value">(.*?)</code>', row, re.S).group(1).strip()
    layer = re.search(r'data-testid="source">(.*?)</span>', row).group(1)
    return value, layer


def test_an_admin_creates_an_agent_from_a_template_and_lands_on_it(member_client, tenant_a):
    admin = member_client("admin")

    response = admin.post("/agents/new/", {"template": "concise-assistant", "slug": "helper", "name": ""})

    assert response.status_code == 302 and response["Location"] == "/agents/helper/"
    with tenant_context(tenant_a):
        agent = Agent.objects.get(slug="helper")
    assert agent.persona and agent.persona in admin.get("/agents/helper/").content.decode()


def test_a_taken_slug_is_refused_next_to_the_slug_field(member_client, agent_a):
    admin = member_client("admin")

    response = admin.post("/agents/new/", {"template": "concise-assistant", "slug": "mai"})

    html = response.content.decode()
    assert response.status_code == 400
    assert re.search(r'id="id_slug".*?<ul class="errorlist"', html, re.S), "the error sits right after the slug field"


def test_the_empty_agent_list_invites_to_create_the_first_agent(member_client, tenant_a):
    html = member_client("owner").get("/agents/").content.decode()

    assert "No agents yet" in html and "Create your first agent" in html


def test_a_new_key_is_shown_once_and_listed_by_prefix_only(member_client, agent_a, tenant_a):
    admin = member_client("admin")

    created = admin.post("/agents/mai/keys/", {"name": "qq adapter", "scopes": ["chat"]}).content.decode()
    plaintext = re.search(r'<div class="secret" id="new-key">(mmc_[^<]+)</div>', created).group(1)
    later = admin.get("/agents/mai/keys/").content.decode()

    key = ApiKey.objects.get(tenant=tenant_a, agent_slug="mai")
    assert "will not be shown again" in created
    assert plaintext not in later and f"{key.prefix}…" in later
    assert "ws://alpha.localhost/ws" in later  # the connect snippet


def test_rotating_shows_the_new_key_once_and_revoking_marks_the_old_one(member_client, agent_a, tenant_a):
    admin = member_client("admin")
    admin.post("/agents/mai/keys/", {"name": "adapter", "scopes": ["chat"]})
    old = ApiKey.objects.get(tenant=tenant_a, agent_slug="mai")

    rotated = admin.post(f"/agents/mai/keys/{old.pk}/rotate/").content.decode()
    admin.post(f"/agents/mai/keys/{old.pk}/revoke/")

    new = ApiKey.objects.filter(tenant=tenant_a, agent_slug="mai").exclude(pk=old.pk).get()
    assert re.search(r'id="new-key">mmc_alpha_mai_', rotated) and new.prefix in rotated
    old.refresh_from_db()
    assert old.revoked_at is not None and "revoked" in admin.get("/agents/mai/keys/").content.decode()


def test_a_config_value_set_at_the_agent_layer_shows_that_layer(member_client, agent_a):
    admin = member_client("admin")
    assert _value_and_layer(admin.get("/agents/mai/config/").content.decode(), "talk_frequency")[1] == "default"

    response = admin.post("/agents/mai/config/", {"key": "talk_frequency", "value": "0.3", "layer": "agent", "action": "set"})

    assert response.status_code == 302
    assert _value_and_layer(admin.get("/agents/mai/config/").content.decode(), "talk_frequency") == ("0.3", "agent")


def test_a_platform_value_applies_only_on_the_platform_chosen_from_the_list(member_client, agent_a):
    admin = member_client("admin")

    admin.post("/agents/mai/config/", {"key": "max_reply_length", "value": "120", "layer": "platform", "platform": "qq", "action": "set"})
    # the page's platform form sends both the list's choice and the (empty) free-text field
    on_qq = admin.get("/agents/mai/config/", {"platform": "qq", "other_platform": ""}).content.decode()
    agent_wide = admin.get("/agents/mai/config/").content.decode()

    assert _value_and_layer(on_qq, "max_reply_length") == ("120", "platform")
    assert _value_and_layer(agent_wide, "max_reply_length")[1] == "default"


def test_an_out_of_bounds_value_is_refused_in_its_own_row(member_client, agent_a):
    admin = member_client("admin")

    response = admin.post("/agents/mai/config/", {"key": "talk_frequency", "value": "7", "layer": "agent", "action": "set"})

    assert response.status_code == 400
    assert 'class="errorlist"' in _row(response.content.decode(), "talk_frequency")
    assert 'class="errorlist"' not in _row(response.content.decode(), "max_reply_length")


def test_a_history_entry_rolls_the_value_back(member_client, agent_a, tenant_a):
    admin = member_client("admin")
    admin.post("/agents/mai/config/", {"key": "talk_frequency", "value": "0.3", "layer": "agent", "action": "set"})
    with tenant_context(tenant_a):
        change = ConfigChange.objects.get(key="talk_frequency")

    page = admin.get("/agents/mai/config/").content.decode()
    admin.post(f"/agents/mai/config/{change.pk}/rollback/")

    assert f"/agents/mai/config/{change.pk}/rollback/" in page
    assert _value_and_layer(admin.get("/agents/mai/config/").content.decode(), "talk_frequency")[1] == "default"


def test_another_tenants_history_entry_cannot_be_rolled_back(member_client, agent_a, agent_b, tenant_b, host_b):
    from agents import config
    from agents.audit import Actor

    with tenant_context(tenant_b):
        change = config.set_config_value("agent", "talk_frequency", 0.9, agent=agent_b, actor=Actor("user:b"))

    response = member_client("owner").post(f"/agents/mai/config/{change.pk}/rollback/")

    assert response.status_code == 404
    with tenant_context(tenant_b):
        assert config.effective_config(Agent.objects.get(slug="mai"), None)["talk_frequency"] == 0.9
