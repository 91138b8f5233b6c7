from __future__ import annotations

import json
import logging

from django.db import connection
from django_tenants.utils import tenant_context

from agents.llm_routes import routes_for_task
from agents.models import LLMModel, LLMProvider
from tests.agents.test_llm_toml_import import MODEL_CONFIG_TOML
from tests.api_fixtures import key_client

JSON = "application/json"


def test_a_providers_secret_is_never_returned_logged_or_stored_in_plaintext(member_client, tenant_a, caplog):
    admin = member_client("admin")

    with caplog.at_level(logging.DEBUG):
        created = admin.post("/api/v2/llm/providers", {"name": "ds", "base_url": "https://api.deepseek.com/v1", "api_key": "sk-top-secret"}, content_type=JSON)
        provider_id = created.json()["data"]["id"]
        changed = admin.patch(f"/api/v2/llm/providers/{provider_id}", {"api_key": "sk-second-secret"}, content_type=JSON)
        responses = [
            created, changed,
            admin.get("/api/v2/llm/providers"), admin.get(f"/api/v2/llm/providers/{provider_id}"),
            admin.get("/api/v2/audit"), admin.get("/api/v2/audit?object_type=llm_provider"),
        ]

    for response in responses:
        assert response.status_code == 200 or response.status_code == 201
        body = response.content.decode()
        assert "sk-top-secret" not in body and "sk-second-secret" not in body
    assert "sk-top-secret" not in caplog.text and "sk-second-secret" not in caplog.text
    assert created.json()["data"]["has_api_key"] is True
    with tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM agents_llmprovider")
        stored = json.dumps(cursor.fetchall(), default=str)
    assert "sk-top-secret" not in stored and "sk-second-secret" not in stored


def test_a_replaced_secret_is_the_one_calls_use(member_client, tenant_a):
    admin = member_client("admin")
    provider = admin.post("/api/v2/llm/providers", {"name": "p", "base_url": "https://p.example/v1", "api_key": "sk-old"}, content_type=JSON).json()["data"]
    admin.post("/api/v2/llm/models", {"name": "m", "provider": "p", "identifier": "m-1", "price_in": "1.25"}, content_type=JSON)
    admin.put("/api/v2/llm/tasks/utils", {"model_names": ["m"], "temperature": 0.1}, content_type=JSON)

    admin.patch(f"/api/v2/llm/providers/{provider['id']}", {"api_key": "sk-new"}, content_type=JSON)

    with tenant_context(tenant_a):
        assert [(r.api_key, str(r.price_in), r.temperature) for r in routes_for_task("utils")] == [("sk-new", "1.250000", 0.1)]


def test_models_and_task_lists_are_managed_over_the_api(member_client):
    admin = member_client("admin")
    admin.post("/api/v2/llm/providers", {"name": "p", "base_url": "https://p.example/v1"}, content_type=JSON)

    model = admin.post("/api/v2/llm/models", {"name": "m", "provider": "p", "identifier": "m-1", "price_out": "3"}, content_type=JSON)
    task = admin.put("/api/v2/llm/tasks/replyer", {"model_names": ["m"], "max_tokens": 500}, content_type=JSON)
    renamed = admin.patch(f"/api/v2/llm/models/{model.json()['data']['id']}", {"name": "m2"}, content_type=JSON)
    tasks = admin.get("/api/v2/llm/tasks").json()["data"]["items"]

    assert (model.status_code, task.status_code, renamed.status_code) == (201, 200, 200)
    assert model.json()["data"]["price_out"] == "3.000000"
    assert [(t["task"], t["model_names"], t["max_tokens"]) for t in tasks] == [("replyer", ["m2"], 500)]


def test_bad_fields_come_back_one_by_one(member_client):
    admin = member_client("admin")

    provider = admin.post("/api/v2/llm/providers", {"name": "p", "base_url": "nope", "max_retries": 50}, content_type=JSON)
    task = admin.put("/api/v2/llm/tasks/replyer", {"model_names": ["ghost"]}, content_type=JSON)
    unknown_task = admin.put("/api/v2/llm/tasks/dreaming", {"model_names": []}, content_type=JSON)

    assert provider.status_code == 400 and set(provider.json()["errors"]) == {"base_url", "max_retries"}
    assert task.status_code == 400 and "ghost" in task.json()["errors"]["model_names"][0]
    assert unknown_task.status_code == 400 and "task" in unknown_task.json()["errors"]


def test_the_toml_import_endpoint_reports_what_it_created_and_skipped(member_client):
    response = member_client("admin").post("/api/v2/llm/import", {"toml": MODEL_CONFIG_TOML}, content_type=JSON)

    body = response.json()["data"]
    assert body["providers"] == ["DeepSeek", "SiliconFlow"]
    assert body["tasks"] == ["utils", "replyer", "planner", "vlm", "embedding"]
    assert len(body["skipped"]) == 6
    assert "sk-deepseek" not in response.content.decode()


def test_bad_toml_is_a_validation_error(member_client):
    response = member_client("admin").post("/api/v2/llm/import", {"toml": "[[api_providers]\nname="}, content_type=JSON)

    assert response.status_code == 400
    assert "file" in response.json()["errors"]


def test_members_cannot_add_providers_and_keys_cannot_either(member_client, host_a, tenant_a, agent_a, key_for):
    payload = {"name": "x", "base_url": "https://x.example/v1"}

    assert member_client("member").post("/api/v2/llm/providers", payload, content_type=JSON).status_code == 403
    key = key_for(tenant_a, scopes=("config_read", "config_write", "admin"))
    assert key_client(host_a, key).post("/api/v2/llm/providers", payload, content_type=JSON).status_code == 403
    assert key_client(host_a, key).post("/api/v2/llm/import", {"toml": MODEL_CONFIG_TOML}, content_type=JSON).status_code == 403


def test_a_key_with_config_read_sees_providers_but_no_secret(member_client, host_a, tenant_a, agent_a, key_for):
    member_client("admin").post("/api/v2/llm/providers", {"name": "p", "base_url": "https://p.example/v1", "api_key": "sk-hidden"}, content_type=JSON)

    listed = key_client(host_a, key_for(tenant_a, scopes=("config_read",))).get("/api/v2/llm/providers")

    assert [p["name"] for p in listed.json()["data"]["items"]] == ["p"]
    assert "sk-hidden" not in listed.content.decode()


def test_the_test_button_endpoint_answers_with_the_check(member_client, openai_server):
    admin = member_client("admin")
    provider = admin.post("/api/v2/llm/providers", {"name": "local", "base_url": openai_server.url, "api_key": "k"}, content_type=JSON).json()["data"]

    check = admin.post(f"/api/v2/llm/providers/{provider['id']}/test").json()["data"]

    assert check["ok"] is True and check["method"] == "models" and "fake-chat" in check["models"]


def test_another_tenants_provider_and_model_ids_are_not_found(member_client, tenant_b):
    with tenant_context(tenant_b):
        theirs = LLMProvider.objects.create(name="theirs", base_url="https://b.example/v1")
        their_model = LLMModel.objects.create(name="theirs", provider=theirs, identifier="t")

    admin = member_client("admin")
    assert admin.get(f"/api/v2/llm/providers/{theirs.pk}").status_code == 404
    assert admin.delete(f"/api/v2/llm/providers/{theirs.pk}").status_code == 404
    assert admin.post(f"/api/v2/llm/providers/{theirs.pk}/test").status_code == 404
    assert admin.patch(f"/api/v2/llm/models/{their_model.pk}", {"name": "mine"}, content_type=JSON).status_code == 404
    with tenant_context(tenant_b):
        assert LLMModel.objects.get(pk=their_model.pk).name == "theirs"
