from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.db import connection

from agents import config, llm_catalog
from agents.audit import Actor
from agents.llm_routes import routes_for_task
from agents.models import Agent, AuditEntry, LLMProvider, TaskModelList

ADMIN = Actor("user:admin@example.com")


@pytest.fixture
def catalog(in_tenant_a):
    """Two providers, three models, and replyer/planner task lists."""
    fast = llm_catalog.create_provider(name="fast", base_url="https://fast.example/v1/", api_key="sk-fast-secret", timeout_seconds=20, max_retries=1, actor=ADMIN)
    slow = llm_catalog.create_provider(name="slow", base_url="https://slow.example/v1", api_key="sk-slow-secret", actor=ADMIN)
    llm_catalog.create_model(name="small", provider="fast", identifier="small-1", price_in="0.5", price_out="1.5", actor=ADMIN)
    llm_catalog.create_model(name="large", provider="slow", identifier="large-2", actor=ADMIN)
    llm_catalog.create_model(name="tiny", provider=fast, identifier="tiny-0", actor=ADMIN)
    llm_catalog.set_task_models("replyer", ["large", "small"], temperature=0.4, max_tokens=600, actor=ADMIN)
    llm_catalog.set_task_models("planner", ["small", "tiny"], actor=ADMIN)
    return fast, slow


def test_routes_follow_the_task_list_in_order_with_provider_and_task_settings(catalog):
    routes = routes_for_task("replyer")

    assert [r.model_name for r in routes] == ["large", "small"]
    small = routes[1]
    assert (small.identifier, small.base_url, small.api_key, small.timeout, small.max_retries) == (
        "small-1", "https://fast.example/v1", "sk-fast-secret", 20.0, 1,
    )
    assert (str(small.price_in), str(small.price_out), small.temperature, small.max_tokens) == ("0.500000", "1.500000", 0.4, 600)


def test_an_agents_model_setting_overrides_the_tenant_task_list(catalog):
    agent = Agent.objects.create(slug="mai", name="Mai")
    config.set_config_value("agent", "models.replyer", ["tiny"], agent=agent, actor=ADMIN)
    config.set_config_value("platform", "models.replyer", ["small"], agent=agent, platform="qq", actor=ADMIN)

    assert [r.model_name for r in routes_for_task("replyer", agent)] == ["tiny"]
    assert [r.model_name for r in routes_for_task("replyer", agent, "qq")] == ["small"]
    assert [r.model_name for r in routes_for_task("replyer")] == ["large", "small"]
    assert [r.model_name for r in routes_for_task("planner", agent)] == ["small", "tiny"]


def test_an_unknown_task_is_a_programming_error(in_tenant_a):
    with pytest.raises(ValueError, match="Unknown task"):
        routes_for_task("replier")


def test_a_task_list_must_name_existing_models_and_sane_parameters(catalog):
    with pytest.raises(ValidationError) as refused:
        llm_catalog.set_task_models("replyer", ["ghost"], temperature=7, max_tokens=0, actor=ADMIN)

    assert set(refused.value.message_dict) == {"model_names", "temperature", "max_tokens"}
    assert "ghost" in refused.value.message_dict["model_names"][0]
    assert TaskModelList.objects.get(task="replyer").model_names == ["large", "small"]


def test_invalid_provider_fields_are_refused_one_by_one(in_tenant_a):
    with pytest.raises(ValidationError) as refused:
        llm_catalog.create_provider(name="", base_url="ftp://x", timeout_seconds=0, max_retries=99, actor=ADMIN)

    assert set(refused.value.message_dict) == {"name", "base_url", "timeout_seconds", "max_retries"}
    assert LLMProvider.objects.count() == 0


def test_invalid_model_prices_are_refused(catalog):
    with pytest.raises(ValidationError) as refused:
        llm_catalog.create_model(name="x", provider="fast", identifier="x", price_in="-1", price_out="NaN", actor=ADMIN)

    assert set(refused.value.message_dict) == {"price_in", "price_out"}


def test_renaming_a_model_keeps_the_task_lists_pointing_at_it(catalog):
    small = catalog[0].models.get(name="small")

    llm_catalog.update_model(small, {"name": "small-v2"}, actor=ADMIN)

    assert TaskModelList.objects.get(task="replyer").model_names == ["large", "small-v2"]
    assert [r.model_name for r in routes_for_task("planner")] == ["small-v2", "tiny"]


def test_deleting_a_model_or_provider_takes_its_models_out_of_the_task_lists(catalog):
    fast, slow = catalog

    llm_catalog.delete_model(slow.models.get(name="large"), actor=ADMIN)
    llm_catalog.delete_provider(fast, actor=ADMIN)

    assert TaskModelList.objects.get(task="replyer").model_names == []
    assert TaskModelList.objects.get(task="planner").model_names == []
    deleted = AuditEntry.objects.get(action="provider.delete")
    assert sorted(deleted.changes["models_removed"]) == ["small", "tiny"]


def test_provider_keys_are_encrypted_at_rest_and_absent_from_the_audit_log(catalog):
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key_encrypted FROM agents_llmprovider")
        stored = " ".join(row[0] for row in cursor.fetchall())
    audit = " ".join(str(entry.changes) for entry in AuditEntry.objects.all())

    assert "sk-fast-secret" not in stored and "sk-slow-secret" not in stored
    assert "sk-fast-secret" not in audit and "sk-slow-secret" not in audit
    assert LLMProvider.objects.get(name="fast").has_api_key


def test_keys_survive_a_rotation_of_the_encryption_key(in_tenant_a, settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    llm_catalog.create_provider(name="p", base_url="https://p.example/v1", api_key="sk-rotated", actor=ADMIN)
    llm_catalog.create_model(name="m", provider="p", identifier="m", actor=ADMIN)
    llm_catalog.set_task_models("utils", ["m"], actor=ADMIN)

    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    assert [r.api_key for r in routes_for_task("utils")] == ["sk-rotated"]


def test_a_key_that_cannot_be_decrypted_skips_its_routes_with_a_log_line(in_tenant_a, settings, caplog):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    llm_catalog.create_provider(name="lost", base_url="https://lost.example/v1", api_key="sk-lost", actor=ADMIN)
    llm_catalog.create_provider(name="kept", base_url="https://kept.example/v1", actor=ADMIN)
    llm_catalog.create_model(name="a", provider="lost", identifier="a", actor=ADMIN)
    llm_catalog.create_model(name="b", provider="kept", identifier="b", actor=ADMIN)
    llm_catalog.set_task_models("utils", ["a", "b"], actor=ADMIN)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with caplog.at_level(logging.ERROR, logger="agents.llm_routes"):
        routes = routes_for_task("utils")

    assert [(r.model_name, r.api_key) for r in routes] == [("b", "")]
    assert "'lost'" in caplog.text and "sk-lost" not in caplog.text


def test_one_tenants_providers_are_invisible_to_the_other(tenant_a, tenant_b):
    from django_tenants.utils import tenant_context

    with tenant_context(tenant_a):
        llm_catalog.create_provider(name="mine", base_url="https://a.example/v1", actor=ADMIN)
    with tenant_context(tenant_b):
        assert not LLMProvider.objects.filter(name="mine").exists()
        assert routes_for_task("replyer") == []
