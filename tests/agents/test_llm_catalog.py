from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from agents import config, llm_catalog
from agents.audit import Actor
from agents.llm_routes import routes_for_task
from agents.models import Agent, LLMModel, LLMProvider, TaskModelList

ADMIN = Actor("user:admin@example.com")

MODEL_CONFIG_TOML = '''
[inner]
version = "1.1.1"

[[api_providers]]
name = "DeepSeek"
base_url = "https://api.deepseek.com/v1"
api_key = "sk-deepseek-secret"
client_type = "openai"
max_retry = 2
timeout = 30
retry_interval = 10

[[api_providers]]
name = "SiliconFlow"
base_url = "https://api.siliconflow.cn/v1/"
api_key = ["sk-silicon-1", "sk-silicon-2"]
client_type = "openai"
max_retry = 3
timeout = 60

[[models]]
model_identifier = "deepseek-chat"
name = "deepseek-v3"
api_provider = "DeepSeek"
price_in = 2.0
price_out = 8.0

[[models]]
model_identifier = "Qwen/Qwen3-8B"
name = "qwen3-8b"
api_provider = "SiliconFlow"
price_in = 0
price_out = 0

[[models]]
model_identifier = "BAAI/bge-m3"
name = "bge-m3"
api_provider = "SiliconFlow"

[model_task_config.replyer]
model_list = ["deepseek-v3", "qwen3-8b"]
temperature = 0.3
max_tokens = 800

[model_task_config.utils]
model_list = ["qwen3-8b"]

[model_task_config.embedding]
model_list = ["bge-m3"]

[model_task_config.emotion]
model_list = ["qwen3-8b"]
'''


def test_importing_model_config_toml_creates_the_same_providers_models_and_tasks(in_tenant_a):
    summary = llm_catalog.import_model_config_toml(MODEL_CONFIG_TOML, actor=ADMIN)

    assert summary.providers == ["DeepSeek", "SiliconFlow"]
    assert summary.skipped == ["emotion"]
    silicon = LLMProvider.objects.get(name="SiliconFlow")
    assert (silicon.base_url, silicon.timeout_seconds, silicon.max_retries) == ("https://api.siliconflow.cn/v1", 60.0, 3)
    deepseek_v3 = LLMModel.objects.get(name="deepseek-v3")
    assert (deepseek_v3.identifier, deepseek_v3.provider.name, deepseek_v3.price_in, deepseek_v3.price_out) == (
        "deepseek-chat", "DeepSeek", Decimal("2"), Decimal("8"),
    )
    replyer = TaskModelList.objects.get(task="replyer")
    assert (replyer.model_names, replyer.temperature, replyer.max_tokens) == (["deepseek-v3", "qwen3-8b"], 0.3, 800)
    routes = routes_for_task("replyer")
    assert [(r.model_name, r.identifier, r.api_key) for r in routes] == [
        ("deepseek-v3", "deepseek-chat", "sk-deepseek-secret"), ("qwen3-8b", "Qwen/Qwen3-8B", "sk-silicon-1"),
    ]


def test_importing_twice_updates_instead_of_duplicating(in_tenant_a):
    llm_catalog.import_model_config_toml(MODEL_CONFIG_TOML, actor=ADMIN)
    llm_catalog.import_model_config_toml(MODEL_CONFIG_TOML.replace("price_out = 8.0", "price_out = 9.0"), actor=ADMIN)

    assert LLMProvider.objects.count() == 2
    assert LLMModel.objects.get(name="deepseek-v3").price_out == Decimal("9")


def test_a_toml_naming_an_unknown_provider_changes_nothing(in_tenant_a):
    broken = MODEL_CONFIG_TOML.replace('name = "qwen3-8b"\napi_provider = "SiliconFlow"', 'name = "qwen3-8b"\napi_provider = "Nowhere"')

    with pytest.raises(ValidationError) as refused:
        llm_catalog.import_model_config_toml(broken, actor=ADMIN)

    assert "models[1].provider" in refused.value.message_dict
    assert LLMProvider.objects.count() == 0


def test_provider_keys_are_encrypted_at_rest(in_tenant_a):
    provider = llm_catalog.create_provider(name="p", base_url="https://x.example/v1", api_key="sk-very-secret", actor=ADMIN)

    assert "sk-very-secret" not in provider.api_key_encrypted
    assert provider.has_api_key


def test_an_agents_model_setting_overrides_the_tenant_task_list(in_tenant_a):
    llm_catalog.import_model_config_toml(MODEL_CONFIG_TOML, actor=ADMIN)
    agent = Agent.objects.create(slug="mai", name="Mai")
    config.set_config_value("agent", "models.replyer", ["qwen3-8b"], agent=agent, actor=ADMIN)

    assert [r.model_name for r in routes_for_task("replyer", agent)] == ["qwen3-8b"]
    assert [r.model_name for r in routes_for_task("replyer")] == ["deepseek-v3", "qwen3-8b"]


def test_a_task_list_must_name_existing_models(in_tenant_a):
    with pytest.raises(ValidationError) as refused:
        llm_catalog.set_task_models("replyer", ["ghost"], actor=ADMIN)
    assert "ghost" in refused.value.message_dict["model_names"][0]


def test_test_connection_lists_the_providers_models_with_its_key(in_tenant_a, openai_server):
    openai_server.required_api_key = "sk-right"
    good = llm_catalog.create_provider(name="good", base_url=openai_server.url, api_key="sk-right", actor=ADMIN)
    bad = llm_catalog.create_provider(name="bad", base_url=openai_server.url, api_key="sk-wrong", actor=ADMIN)

    ok, refused = llm_catalog.test_provider_connection(good), llm_catalog.test_provider_connection(bad)

    assert ok.ok and "fake-chat" in ok.models
    assert not refused.ok and refused.status == 401


def test_test_connection_reports_an_unreachable_provider(in_tenant_a):
    provider = llm_catalog.create_provider(name="gone", base_url="http://127.0.0.1:9/v1", api_key="k", timeout_seconds=2, actor=ADMIN)

    check = llm_catalog.test_provider_connection(provider)

    assert not check.ok and check.status is None and "Connect" in check.error


def test_one_tenants_providers_are_invisible_to_the_other(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        llm_catalog.import_model_config_toml(MODEL_CONFIG_TOML, actor=ADMIN)
    with tenant_context(tenant_b):
        assert LLMProvider.objects.count() == 0
        assert routes_for_task("replyer") == []
