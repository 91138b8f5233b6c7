from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from tenants import apikeys
from tenants.apikeys import ApiKeyRejected
from tenants.models import ApiKey
from tests.api_fixtures import key_client


def test_a_created_key_is_shown_once_and_only_its_digest_is_stored(member_client, agent_a, tenant_a):
    admin = member_client("admin")

    created = admin.post("/api/v2/agents/mai/keys", {"name": "qq adapter", "scopes": ["chat"]}, content_type="application/json")
    listed = admin.get("/api/v2/agents/mai/keys")

    plaintext = created.json()["data"]["key"]
    assert created.status_code == 201
    assert plaintext.startswith("mmc_alpha_mai_") and plaintext.endswith("_v1")
    assert len(plaintext.split("_")[3]) == 40  # 160 random bits, hex
    assert "key" not in listed.json()["data"]["items"][0]
    stored = ApiKey.objects.get()
    assert plaintext not in {stored.digest, stored.prefix}
    assert stored.digest == apikeys.digest_of(plaintext)
    assert plaintext.startswith(stored.prefix)


def test_a_key_names_its_tenant_agent_and_scopes(tenant_a, agent_a):
    plaintext = apikeys.issue_api_key(tenant_a, "mai", name="k", scopes=["chat", "memory_read"]).plaintext

    identity = apikeys.authenticate_api_key(plaintext)

    assert identity.tenant == tenant_a
    assert identity.agent_slug == "mai"
    assert identity.scopes == {"chat", "memory_read"}
    assert identity.has_scope("chat") and not identity.has_scope("config_write")


def test_unknown_scopes_are_refused(tenant_a):
    with pytest.raises(Exception) as raised:
        apikeys.issue_api_key(tenant_a, "mai", name="k", scopes=["chat", "root"])
    assert "root" in str(raised.value)


def test_a_revoked_key_stops_working_at_once(member_client, agent_a, tenant_a, host_a):
    issued = apikeys.issue_api_key(tenant_a, "mai", name="k", scopes=["config_read"])

    response = member_client("admin").post(f"/api/v2/agents/mai/keys/{issued.key.pk}/revoke")

    assert response.json()["data"]["revoked"] is True
    with pytest.raises(ApiKeyRejected) as rejected:
        apikeys.authenticate_api_key(issued.plaintext)
    assert rejected.value.code == "revoked"
    assert key_client(host_a, issued.plaintext).get("/api/v2/agents").status_code == 401


def test_an_expired_key_is_refused(tenant_a, agent_a):
    issued = apikeys.issue_api_key(tenant_a, "mai", name="k", scopes=["chat"], expires=timezone.now() + timedelta(hours=1))

    with freeze_time(timezone.now() + timedelta(hours=2)), pytest.raises(ApiKeyRejected) as rejected:
        apikeys.authenticate_api_key(issued.plaintext)
    assert rejected.value.code == "expired"


def test_a_rotated_key_works_through_the_grace_period_then_stops(member_client, agent_a, tenant_a, settings):
    settings.API_KEY_ROTATION_GRACE_SECONDS = 3600
    old = apikeys.issue_api_key(tenant_a, "mai", name="k", scopes=["chat"])

    response = member_client("admin").post(f"/api/v2/agents/mai/keys/{old.key.pk}/rotate")

    new_plaintext = response.json()["data"]["key"]
    assert response.status_code == 201 and new_plaintext != old.plaintext
    assert apikeys.authenticate_api_key(old.plaintext).agent_slug == "mai"
    assert apikeys.authenticate_api_key(new_plaintext).agent_slug == "mai"
    with freeze_time(timezone.now() + timedelta(seconds=3601)):
        with pytest.raises(ApiKeyRejected):
            apikeys.authenticate_api_key(old.plaintext)
        assert apikeys.authenticate_api_key(new_plaintext).agent_slug == "mai"


def test_a_suspended_tenants_key_is_refused(tenant_a, agent_a):
    issued = apikeys.issue_api_key(tenant_a, "mai", name="k", scopes=["chat"])
    tenant_a.status = tenant_a.Status.SUSPENDED
    tenant_a.save()

    with pytest.raises(ApiKeyRejected) as rejected:
        apikeys.authenticate_api_key(issued.plaintext)
    assert rejected.value.code == "tenant_suspended"


def test_deleting_an_agent_revokes_its_keys(member_client, agent_a, tenant_a):
    issued = apikeys.issue_api_key(tenant_a, "mai", name="k", scopes=["chat"])

    assert member_client("owner").delete("/api/v2/agents/mai").status_code == 204

    with pytest.raises(ApiKeyRejected):
        apikeys.authenticate_api_key(issued.plaintext)
