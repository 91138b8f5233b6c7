from __future__ import annotations

import json

from django.db import connection
from django_tenants.utils import tenant_context

from agents.models import LLMProvider
from tests.agents.test_llm_catalog import MODEL_CONFIG_TOML
from tests.api_fixtures import key_client


def test_a_providers_secret_is_never_returned_and_not_stored_in_plaintext(member_client, tenant_a):
    admin = member_client("admin")

    created = admin.post("/api/v2/llm/providers", {"name": "ds", "base_url": "https://api.deepseek.com/v1", "api_key": "sk-top-secret"}, content_type="application/json")
    listed = admin.get("/api/v2/llm/providers")
    read = admin.get(f"/api/v2/llm/providers/{created.json()['data']['id']}")

    for response in (created, listed, read):
        assert "sk-top-secret" not in response.content.decode()
    assert created.json()["data"]["has_api_key"] is True
    with tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute("SELECT api_key_encrypted FROM agents_llmprovider")
        assert "sk-top-secret" not in json.dumps(cursor.fetchall())


def test_the_toml_import_endpoint_reports_what_it_created(member_client):
    response = member_client("admin").post("/api/v2/llm/import", {"toml": MODEL_CONFIG_TOML}, content_type="application/json")

    body = response.json()["data"]
    assert body["models"] == ["deepseek-v3", "qwen3-8b", "bge-m3"]
    assert body["tasks"] == ["replyer", "utils", "embedding"]


def test_bad_toml_is_a_validation_error(member_client):
    response = member_client("admin").post("/api/v2/llm/import", {"toml": "[[api_providers]\nname="}, content_type="application/json")

    assert response.status_code == 400
    assert "file" in response.json()["errors"]


def test_members_cannot_add_providers_and_keys_cannot_either(member_client, host_a, tenant_a, agent_a, key_for):
    payload = {"name": "x", "base_url": "https://x.example/v1"}

    assert member_client("member").post("/api/v2/llm/providers", payload, content_type="application/json").status_code == 403
    key = key_for(tenant_a, scopes=("config_read", "config_write", "admin"))
    assert key_client(host_a, key).post("/api/v2/llm/providers", payload, content_type="application/json").status_code == 403


def test_the_test_button_endpoint_answers_with_the_check(member_client, openai_server):
    admin = member_client("admin")
    provider = admin.post("/api/v2/llm/providers", {"name": "local", "base_url": openai_server.url, "api_key": "k"}, content_type="application/json").json()["data"]

    check = admin.post(f"/api/v2/llm/providers/{provider['id']}/test").json()["data"]

    assert check["ok"] is True and "fake-chat" in check["models"]


def test_another_tenants_provider_id_is_not_found(member_client, tenant_b):
    with tenant_context(tenant_b):
        theirs = LLMProvider.objects.create(name="theirs", base_url="https://b.example/v1")

    admin = member_client("admin")
    assert admin.get(f"/api/v2/llm/providers/{theirs.pk}").status_code == 404
    assert admin.delete(f"/api/v2/llm/providers/{theirs.pk}").status_code == 404
