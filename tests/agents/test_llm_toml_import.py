from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from agents.audit import Actor
from agents.llm_routes import routes_for_task
from agents.model_config_import import import_model_config_toml
from agents.models import AuditEntry, LLMModel, LLMProvider, TaskModelList

ADMIN = Actor("user:admin@example.com")
MODEL_CONFIG_TOML = (Path(__file__).parent / "model_config_sample.toml").read_text()


def test_importing_a_maibot_file_creates_the_same_providers_models_and_task_lists(in_tenant_a):
    summary = import_model_config_toml(MODEL_CONFIG_TOML, actor=ADMIN)

    assert summary.providers == ["DeepSeek", "SiliconFlow"]
    assert summary.models == ["deepseek-v3", "sf-deepseek-v3.2", "qwen3-30b", "qwen3-vl-30", "bge-m3"]
    assert summary.tasks == ["utils", "replyer", "planner", "vlm", "embedding"]
    silicon = LLMProvider.objects.get(name="SiliconFlow")
    assert (silicon.base_url, silicon.timeout_seconds, silicon.max_retries) == ("https://api.siliconflow.cn/v1", 60.0, 3)
    qwen = LLMModel.objects.get(name="qwen3-30b")
    assert (qwen.identifier, qwen.provider.name, qwen.price_in, qwen.price_out) == (
        "Qwen/Qwen3-30B-A3B-Instruct-2507", "SiliconFlow", Decimal("0.7"), Decimal("2.8"),
    )
    assert LLMModel.objects.get(name="bge-m3").price_in == 0
    planner = TaskModelList.objects.get(task="planner")
    assert (planner.model_names, planner.temperature, planner.max_tokens) == (["sf-deepseek-v3.2", "qwen3-30b"], 0.3, 800)
    vlm = TaskModelList.objects.get(task="vlm")
    assert (vlm.temperature, vlm.max_tokens) == (None, 256)


def test_the_imported_routes_carry_identifiers_urls_keys_and_task_parameters(in_tenant_a):
    import_model_config_toml(MODEL_CONFIG_TOML, actor=ADMIN)

    routes = routes_for_task("replyer")

    assert [(r.model_name, r.identifier, r.base_url, r.api_key) for r in routes] == [
        ("deepseek-v3", "deepseek-chat", "https://api.deepseek.com/v1", "sk-deepseek-0123456789abcdef"),
        ("sf-deepseek-v3.2", "deepseek-ai/DeepSeek-V3.2-Exp", "https://api.siliconflow.cn/v1", "sk-silicon-first-key"),
    ]
    assert {(r.temperature, r.max_tokens, r.timeout, r.max_retries) for r in routes[:1]} == {(0.3, 800, 120.0, 2)}
    assert (routes[0].price_in, routes[0].price_out) == (Decimal("2"), Decimal("8"))


def test_what_cannot_apply_here_is_reported_as_skipped(in_tenant_a):
    summary = import_model_config_toml(MODEL_CONFIG_TOML, actor=ADMIN)

    assert summary.skipped == [
        "provider Google: client_type 'gemini' is not OpenAI-compatible",
        "model gemini-pro: its provider Google was skipped",
        "task utils_small: not a task here (tasks are replyer, planner, utils, embedding, vlm)",
        "task replyer: unknown model(s) glm-4.6-not-defined, gemini-pro left out of its list",
        "task voice: not a task here (tasks are replyer, planner, utils, embedding, vlm)",
        "task lpmm_qa: not a task here (tasks are replyer, planner, utils, embedding, vlm)",
    ]
    assert not LLMProvider.objects.filter(name="Google").exists()
    assert TaskModelList.objects.get(task="replyer").model_names == ["deepseek-v3", "sf-deepseek-v3.2"]


def test_importing_twice_updates_instead_of_duplicating(in_tenant_a):
    import_model_config_toml(MODEL_CONFIG_TOML, actor=ADMIN)

    import_model_config_toml(MODEL_CONFIG_TOML.replace("price_out = 8.0", "price_out = 9.0"), actor=ADMIN)

    assert LLMProvider.objects.count() == 2 and LLMModel.objects.count() == 5
    assert LLMModel.objects.get(name="deepseek-v3").price_out == Decimal("9")


def test_a_file_naming_an_unknown_provider_changes_nothing(in_tenant_a):
    broken = MODEL_CONFIG_TOML.replace('name = "qwen3-30b"\napi_provider = "SiliconFlow"', 'name = "qwen3-30b"\napi_provider = "Nowhere"')
    audit_rows = AuditEntry.objects.count()

    with pytest.raises(ValidationError) as refused:
        import_model_config_toml(broken, actor=ADMIN)

    assert refused.value.message_dict == {"models[2].provider": ["No such provider."]}
    assert (LLMProvider.objects.count(), LLMModel.objects.count(), AuditEntry.objects.count()) == (0, 0, audit_rows)


def test_bad_provider_fields_are_named_by_their_place_in_the_file(in_tenant_a):
    broken = MODEL_CONFIG_TOML.replace('base_url = "https://api.deepseek.com/v1"', 'base_url = "ftp://deepseek"').replace("max_retry = 2\ntimeout = 120\nretry_interval = 10", "max_retry = 99\ntimeout = 120\nretry_interval = 10", 1)

    with pytest.raises(ValidationError) as refused:
        import_model_config_toml(broken, actor=ADMIN)

    assert set(refused.value.message_dict) == {"api_providers[0].base_url", "api_providers[0].max_retries"}


@pytest.mark.parametrize("text", ["[[api_providers]\nname=", 'api_providers = "not tables"', "[model_task_config]\nreplyer = 3"])
def test_a_malformed_file_is_refused(in_tenant_a, text):
    with pytest.raises(ValidationError):
        import_model_config_toml(text, actor=ADMIN)
    assert LLMProvider.objects.count() == 0


def test_a_file_over_the_size_limit_is_refused(in_tenant_a, settings):
    settings.MODEL_CONFIG_IMPORT_MAX_BYTES = 1000

    with pytest.raises(ValidationError) as refused:
        import_model_config_toml(MODEL_CONFIG_TOML, actor=ADMIN)

    assert "larger than 1000 bytes" in refused.value.message_dict["file"][0]


def test_one_tenants_import_is_invisible_to_the_other(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        import_model_config_toml(MODEL_CONFIG_TOML, actor=ADMIN)
    with tenant_context(tenant_b):
        assert LLMProvider.objects.count() == 0
        assert routes_for_task("replyer") == []


def test_names_the_database_cannot_hold_are_refused_field_by_field(in_tenant_a):
    text = MODEL_CONFIG_TOML.replace('name = "DeepSeek"', 'name = "Deep\\u0000Seek"').replace('name = "qwen3-30b"', 'name = "qwen\\u0000"')

    with pytest.raises(ValidationError) as refused:
        import_model_config_toml(text, actor=ADMIN)

    assert "api_providers[0].name" in refused.value.message_dict
