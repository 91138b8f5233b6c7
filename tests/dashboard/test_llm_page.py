"""LLM providers, models, task lists and the model_config.toml import in the dashboard."""
from __future__ import annotations

import re
from pathlib import Path

from django_tenants.utils import tenant_context

from agents.models import LLMModel, LLMProvider, TaskModelList

SAMPLE_TOML = (Path(__file__).parents[1] / "agents" / "model_config_sample.toml").read_text()


def _field_group(html: str, name: str) -> str:
    """From the field's label to the field itself: where Django puts its errors."""
    return re.search(rf'<label for="id_{name}".*?name="{name}"[^>]*>', html, re.S).group(0)


def _add_provider(client, url: str, secret: str, name: str = "local"):  # noqa: ANN001, ANN202
    return client.post("/llm/", {"form": "provider", "p-name": name, "p-base_url": url, "p-api_key": secret,
                                 "p-timeout_seconds": "5", "p-max_retries": "0"})


def test_a_providers_secret_is_stored_but_never_shown_again(member_client, tenant_a):
    admin = member_client("admin")

    added = _add_provider(admin, "https://llm.example/v1", "sk-very-secret-123")
    page = admin.get("/llm/").content.decode()

    assert added.status_code == 302
    assert "sk-very-secret-123" not in page and ">set<" in page
    with tenant_context(tenant_a):
        assert "sk-very-secret-123" not in LLMProvider.objects.get(name="local").api_key_encrypted


def test_a_bad_base_url_is_refused_next_to_its_field(member_client, tenant_a):
    response = _add_provider(member_client("admin"), "not a url", "sk-x")

    assert response.status_code == 400
    group = _field_group(response.content.decode(), "p-base_url")
    assert 'class="errorlist' in group and 'aria-invalid="true"' in group
    with tenant_context(tenant_a):
        assert not LLMProvider.objects.exists()


def test_test_connection_reports_the_models_the_provider_offers(member_client, tenant_a, openai_server):
    openai_server.required_api_key = "sk-right"
    admin = member_client("admin")
    _add_provider(admin, openai_server.url, "sk-right", name="good")
    _add_provider(admin, openai_server.url, "sk-wrong", name="bad")
    with tenant_context(tenant_a):
        good, bad = LLMProvider.objects.get(name="good"), LLMProvider.objects.get(name="bad")

    ok = admin.post(f"/llm/providers/{good.pk}/test/", follow=True).content.decode()
    failed = admin.post(f"/llm/providers/{bad.pk}/test/", follow=True).content.decode()

    assert "Connection to good" in ok and 'badge ok">ok<' in ok and openai_server.models[0] in ok
    assert "Connection to bad" in failed and ">failed<" in failed and "HTTP 401" in failed
    assert "sk-wrong" not in failed


def test_a_model_and_a_task_list_are_saved(member_client, tenant_a):
    admin = member_client("admin")
    _add_provider(admin, "https://llm.example/v1", "")

    admin.post("/llm/", {"form": "model", "m-name": "chat-1", "m-provider": "local", "m-identifier": "vendor/chat-1",
                         "m-price_in": "0.5", "m-price_out": "1.5"})
    admin.post("/llm/", {"form": "task", "task": "replyer", "model_names": "chat-1"})
    page = admin.get("/llm/").content.decode()

    with tenant_context(tenant_a):
        assert str(LLMModel.objects.get(name="chat-1").price_out) == "1.500000"
        assert TaskModelList.objects.get(task="replyer").model_names == ["chat-1"]
    assert "vendor/chat-1" in page and 'value="chat-1"' in page


def test_importing_a_maibot_model_config_reports_what_was_imported_and_skipped(member_client, tenant_a):
    admin = member_client("admin")

    page = admin.post("/llm/", {"form": "toml", "t-toml": SAMPLE_TOML}, follow=True).content.decode()

    assert "Imported providers: DeepSeek, SiliconFlow" in page and "Skipped:" in page
    assert "sk-deepseek-0123456789abcdef" not in page
    with tenant_context(tenant_a):
        assert TaskModelList.objects.get(task="planner").model_names == ["sf-deepseek-v3.2", "qwen3-30b"]


def test_a_broken_toml_is_refused_next_to_the_field_and_changes_nothing(member_client, tenant_a):
    response = member_client("admin").post("/llm/", {"form": "toml", "t-toml": "[[api_providers]\nname = "})

    assert response.status_code == 400
    group = _field_group(response.content.decode(), "t-toml")
    assert 'class="errorlist' in group and "Not valid TOML" in group
    with tenant_context(tenant_a):
        assert not LLMProvider.objects.exists()


def test_another_tenants_provider_cannot_be_tested_or_deleted(member_client, tenant_b):
    from agents import llm_catalog
    from agents.audit import SYSTEM

    with tenant_context(tenant_b):
        provider = llm_catalog.create_provider(actor=SYSTEM, name="b-provider", base_url="https://b.example/v1")
    owner = member_client("owner")

    assert owner.post(f"/llm/providers/{provider.pk}/test/").status_code == 404
    assert owner.post(f"/llm/providers/{provider.pk}/delete/").status_code == 404
    with tenant_context(tenant_b):
        assert LLMProvider.objects.filter(pk=provider.pk).exists()
