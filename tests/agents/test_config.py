from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from agents import config
from agents import services as agent_services
from agents.audit import Actor
from agents.config_schema import SCHEMA
from agents.models import Agent, ConfigChange

ADMIN = Actor("user:admin@example.com", "req-1")


@pytest.fixture
def mai(in_tenant_a) -> Agent:
    return Agent.objects.create(slug="mai", name="Mai", persona="A cat.")


def test_values_come_from_the_nearest_layer_that_sets_them(mai):
    config.set_config_value("tenant", "talk_frequency", 0.2, actor=ADMIN)
    config.set_config_value("tenant", "max_reply_length", 500, actor=ADMIN)
    config.set_config_value("agent", "max_reply_length", 200, agent=mai, actor=ADMIN)
    config.set_config_value("platform", "max_reply_length", 80, agent=mai, platform="qq", actor=ADMIN)

    on_qq = config.effective_config(mai, "qq")
    on_discord = config.effective_config(mai, "discord")

    assert (on_qq["max_reply_length"], on_qq.sources["max_reply_length"]) == (80, "platform")
    assert (on_discord["max_reply_length"], on_discord.sources["max_reply_length"]) == (200, "agent")
    assert (on_qq["talk_frequency"], on_qq.sources["talk_frequency"]) == (0.2, "tenant")
    assert (on_qq["context_messages"], on_qq.sources["context_messages"]) == (20, "default")
    assert (on_qq["persona"], on_qq.sources["persona"]) == ("A cat.", "agent")


def test_invalid_values_are_refused_field_by_field_and_nothing_is_written(mai):
    with pytest.raises(ValidationError) as refused:
        config.set_config_values(
            "agent",
            {"talk_frequency": 3, "quiet_hours": ["25:00-07:00"], "reply_overflow": "explode", "memory_top_k": 4},
            agent=mai, actor=ADMIN,
        )

    assert set(refused.value.message_dict) == {"talk_frequency", "quiet_hours", "reply_overflow"}
    assert "0 to 1" in refused.value.message_dict["talk_frequency"][0]
    assert config.effective_config(mai).sources["memory_top_k"] == "default"


def test_tenant_only_settings_cannot_be_set_per_agent(mai):
    with pytest.raises(ValidationError) as refused:
        config.set_config_value("agent", "retention_days", 10, agent=mai, actor=ADMIN)
    assert "tenant" in refused.value.message_dict["retention_days"][0]


def test_unknown_settings_are_refused(mai):
    with pytest.raises(ValidationError) as refused:
        config.set_config_value("tenant", "make_coffee", True, actor=ADMIN)
    assert "make_coffee" in refused.value.message_dict


def test_a_change_is_seen_at_once_despite_the_cache(mai):
    assert config.effective_config(mai)["talk_frequency"] == 0.5  # now cached

    config.set_config_value("agent", "talk_frequency", 0.9, agent=mai, actor=ADMIN)

    assert config.effective_config(mai)["talk_frequency"] == 0.9


def test_clearing_a_value_falls_back_to_the_layer_below(mai):
    config.set_config_value("tenant", "memory_top_k", 8, actor=ADMIN)
    config.set_config_value("agent", "memory_top_k", 2, agent=mai, actor=ADMIN)

    config.clear_config_value("agent", "memory_top_k", agent=mai, actor=ADMIN)

    effective = config.effective_config(mai)
    assert (effective["memory_top_k"], effective.sources["memory_top_k"]) == (8, "tenant")


def test_history_records_who_when_old_and_new_and_rollback_restores(mai):
    first = config.set_config_value("agent", "talk_frequency", 0.1, agent=mai, actor=ADMIN)
    second = config.set_config_value("agent", "talk_frequency", 0.7, agent=mai, actor=Actor("key:mmc_alpha_mai_abc"))

    config.rollback_config(second, actor=ADMIN)

    history = list(config.config_history(agent=mai, key="talk_frequency"))
    assert [(c.action, c.old, c.new) for c in history] == [("rollback", 0.7, 0.1), ("set", 0.1, 0.7), ("set", None, 0.1)]
    assert history[1].actor == "key:mmc_alpha_mai_abc"
    assert first.request_id == "req-1"
    assert config.effective_config(mai)["talk_frequency"] == 0.1


def test_rolling_back_the_first_change_clears_the_layer(mai):
    first = config.set_config_value("agent", "context_messages", 40, agent=mai, actor=ADMIN)

    config.rollback_config(first, actor=ADMIN)

    assert config.effective_config(mai).sources["context_messages"] == "default"


def test_persona_set_through_config_is_the_agent_row(mai):
    config.set_config_value("agent", "persona", "A dog.", agent=mai, actor=ADMIN)

    mai.refresh_from_db()
    assert mai.persona == "A dog."
    assert config.effective_config(mai)["persona"] == "A dog."


def test_export_then_import_reproduces_the_same_config(mai):
    config.set_config_value("tenant", "timezone", "Asia/Shanghai", actor=ADMIN)
    config.set_config_value("agent", "blocked_users", ["42", "43"], agent=mai, actor=ADMIN)
    config.set_config_value("platform", "talk_frequency", 0.05, agent=mai, platform="qq", actor=ADMIN)
    exported = config.export_config()
    before = config.effective_config(mai, "qq")
    config.clear_config_value("agent", "blocked_users", agent=mai, actor=ADMIN)
    config.clear_config_value("platform", "talk_frequency", agent=mai, platform="qq", actor=ADMIN)

    written = config.import_config(exported, actor=ADMIN)

    assert written == 4  # timezone, persona, blocked_users, talk_frequency on qq
    after = config.effective_config(mai, "qq")
    assert after.values == before.values and after.sources == before.sources


def test_an_import_with_one_bad_value_changes_nothing(mai):
    changes_before = ConfigChange.objects.count()

    with pytest.raises(ValidationError) as refused:
        config.import_config({"tenant": {"memory_top_k": 3}, "agents": {"mai": {"agent": {"talk_frequency": "loud"}}, "ghost": {}}}, actor=ADMIN)

    assert set(refused.value.message_dict) == {"agents.mai.agent.talk_frequency", "agents.ghost"}
    assert ConfigChange.objects.count() == changes_before


def test_one_tenants_config_is_invisible_to_the_other(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        config.set_config_value("tenant", "talk_frequency", 0.9, actor=ADMIN)
        cached_a = config.effective_config()["talk_frequency"]

    with tenant_context(tenant_b):
        assert connection.schema_name == tenant_b.schema_name
        assert config.effective_config()["talk_frequency"] == 0.5
        assert ConfigChange.objects.count() == 0
    assert cached_a == 0.9


def test_a_cached_config_is_served_without_asking_the_database(mai, django_assert_num_queries):
    config.effective_config(mai, "qq")  # fills the cache

    with django_assert_num_queries(0):
        again = config.effective_config(mai, "qq")

    assert again["persona"] == "A cat."


def test_a_value_written_in_a_rolled_back_transaction_is_never_served_from_the_cache(mai):
    with pytest.raises(RuntimeError), transaction.atomic():
        config.set_config_value("agent", "talk_frequency", 0.9, agent=mai, actor=ADMIN)
        assert config.effective_config(mai)["talk_frequency"] == 0.9  # the transaction sees its write
        raise RuntimeError("the request failed later")

    assert config.effective_config(mai)["talk_frequency"] == 0.5


def test_the_same_agent_id_in_another_tenant_has_its_own_cached_config(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        theirs = Agent.objects.create(pk=990_001, slug="mai", name="Mai")
        config.set_config_value("agent", "talk_frequency", 0.9, agent=theirs, actor=ADMIN)
    with tenant_context(tenant_b):
        ours = Agent.objects.create(pk=990_001, slug="mai", name="Mai")
        first = config.effective_config(ours)["talk_frequency"]
        cached = config.effective_config(ours)["talk_frequency"]
    with tenant_context(tenant_a):
        assert config.effective_config(theirs)["talk_frequency"] == 0.9
    assert (first, cached) == (0.5, 0.5)


def test_rollback_takes_a_history_id_as_well(mai):
    change = config.set_config_value("agent", "memory_top_k", 9, agent=mai, actor=ADMIN)

    config.rollback_config(change.pk, ADMIN)

    assert config.effective_config(mai).sources["memory_top_k"] == "default"
    with pytest.raises(ValidationError):
        config.rollback_config(10**9, ADMIN)


def test_the_platform_layer_needs_a_proper_platform_name(mai):
    for platform in (None, "", "q q", "x" * 33):
        with pytest.raises(ValidationError) as refused:
            config.set_config_value("platform", "talk_frequency", 0.1, agent=mai, platform=platform, actor=ADMIN)
        assert "platform" in refused.value.message_dict


def test_every_declared_default_passes_its_own_validation():
    for name, key in SCHEMA.items():
        assert key.clean(key.default) == key.default, name


def test_a_setting_changed_on_the_agent_row_is_seen_at_once(mai):
    config.effective_config(mai)  # cached

    agent_services.update_agent(mai, {"reply_style": "Short."}, actor=ADMIN)

    effective = config.effective_config(mai)
    assert (effective["reply_style"], effective.sources["reply_style"]) == ("Short.", "agent")


def test_an_agent_object_loaded_before_an_edit_still_gets_the_new_persona(mai):
    loaded_earlier = Agent.objects.get(pk=mai.pk)

    agent_services.update_agent(mai, {"persona": "A fox."}, actor=ADMIN)

    assert config.effective_config(loaded_earlier)["persona"] == "A fox."
