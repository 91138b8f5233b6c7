"""Layered configuration: defaults < tenant < agent < platform.

`effective_config(agent, platform)` merges the layers and says where each value came
from. Every change writes a `ConfigChange` row and bumps the tenant's config version, so
cached effective configs of that tenant are never served stale. Runs inside the
tenant's schema.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from agents import audit
from agents.audit import SYSTEM, Actor
from agents.config_schema import AGENT_ROW_KEYS, SCHEMA, WRITABLE_LAYERS
from agents.models import Agent, ConfigChange, ConfigValue

PLATFORM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


@dataclass(frozen=True)
class EffectiveConfig:
    values: dict[str, Any]
    sources: dict[str, str]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def _version_key(schema_name: str) -> str:
    return f"config-version:{schema_name}"


def _cache_key(schema_name: str, agent: Agent | None, platform: str | None) -> str:
    version = cache.get_or_set(_version_key(schema_name), 1, timeout=None)
    return f"config:{schema_name}:v{version}:{agent.pk if agent else '-'}:{platform or '-'}"


def _bump_version(schema_name: str) -> None:
    try:
        cache.incr(_version_key(schema_name))
    except ValueError:
        cache.set(_version_key(schema_name), 2, timeout=None)


def forget_cached_config() -> None:
    """Invalidate every cached effective config of the current tenant, now and on commit.

    Now, so that this transaction reads its own writes; again on commit, because a
    reader elsewhere may have cached the old state in between.
    """
    schema_name = connection.schema_name
    _bump_version(schema_name)
    transaction.on_commit(partial(_bump_version, schema_name))


def _has_uncommitted_change(schema_name: str) -> bool:
    """True while this connection holds a config write of the tenant not yet committed.

    The on-commit bump registered by `forget_cached_config` is the mark: Django keeps it
    in `run_on_commit` until the transaction commits and drops it on rollback. Values
    read meanwhile must not be cached, or a rolled-back write could be served later.
    """
    return any(
        isinstance(hook, partial) and hook.func is _bump_version and hook.args == (schema_name,)
        for _, hook, _ in connection.run_on_commit
    )


def effective_config(agent: Agent | None = None, platform: str | None = None) -> EffectiveConfig:
    """The merged config of (agent, platform) and the layer each value came from.

    Must run inside the tenant's schema. Cached per tenant, agent and platform.
    """
    schema_name = connection.schema_name
    key = _cache_key(schema_name, agent, platform)
    cached = cache.get(key)
    if cached is None:
        cached = _merge(agent, platform)
        if not _has_uncommitted_change(schema_name):
            cache.set(key, cached, settings.CONFIG_CACHE_SECONDS)
    values, sources = cached
    return EffectiveConfig(values=copy.deepcopy(values), sources=dict(sources))


def _merge(agent: Agent | None, platform: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    values = {name: copy.deepcopy(key.default) for name, key in SCHEMA.items()}
    sources = dict.fromkeys(SCHEMA, "default")
    rows = ConfigValue.objects.filter(layer=ConfigValue.Layer.TENANT)
    if agent is not None:
        rows = rows | ConfigValue.objects.filter(layer=ConfigValue.Layer.AGENT, agent=agent)
        if platform:
            rows = rows | ConfigValue.objects.filter(layer=ConfigValue.Layer.PLATFORM, agent=agent, platform=platform)
    by_layer = {layer: {} for layer in WRITABLE_LAYERS}
    for row in rows:
        if row.key in SCHEMA:
            by_layer[row.layer][row.key] = row.value
    if agent is not None:
        # Read the row afresh: callers may hold an Agent loaded long before an edit.
        row = Agent.objects.filter(pk=agent.pk).values(*AGENT_ROW_KEYS).first() or {}
        for name in AGENT_ROW_KEYS:
            if row.get(name):
                by_layer["agent"][name] = row[name]
    for layer in WRITABLE_LAYERS:
        for name, value in by_layer[layer].items():
            values[name] = value
            sources[name] = layer
    return values, sources


def _check_target(layer: str, key: str, agent: Agent | None, platform: str | None) -> None:
    if key not in SCHEMA:
        raise ValidationError({key: ["No such setting."]})
    if layer not in WRITABLE_LAYERS:
        raise ValidationError({"layer": [f"Choose one of: {', '.join(WRITABLE_LAYERS)}."]})
    if layer not in SCHEMA[key].layers:
        raise ValidationError({key: [f"This setting can only be set at the {', '.join(sorted(SCHEMA[key].layers))} layer."]})
    if layer in ("agent", "platform") and agent is None:
        raise ValidationError({"agent": ["The agent and platform layers need an agent."]})
    if layer == "platform" and not (isinstance(platform, str) and PLATFORM_NAME.fullmatch(platform)):
        raise ValidationError({"platform": ["The platform layer needs a platform name (1-32 letters, digits, . _ -)."]})


def _current(layer: str, key: str, agent: Agent | None, platform: str) -> Any:
    if layer == "agent" and key in AGENT_ROW_KEYS:
        return getattr(agent, key) or None
    row = ConfigValue.objects.filter(layer=layer, agent=agent if layer != "tenant" else None, platform=platform, key=key).first()
    return row.value if row else None


def _write(layer: str, key: str, value: Any, agent: Agent | None, platform: str, actor: Actor) -> None:
    """Store (or with value None remove) one value at one layer."""
    if layer == "agent" and key in AGENT_ROW_KEYS:
        setattr(agent, key, value or "")
        agent.save(update_fields=[key, "updated"])
        return
    where = {"layer": layer, "agent": agent if layer != "tenant" else None, "platform": platform, "key": key}
    if value is None:
        ConfigValue.objects.filter(**where).delete()
    else:
        ConfigValue.objects.update_or_create(**where, defaults={"value": value, "updated_by": actor.name})


def _change(layer: str, key: str, value: Any, *, agent: Agent | None, platform: str | None, actor: Actor, action: str) -> ConfigChange:
    platform = (platform or "") if layer == "platform" else ""
    with transaction.atomic():
        old = _current(layer, key, agent, platform)
        _write(layer, key, value, agent, platform, actor)
        change = ConfigChange.objects.create(
            layer=layer, agent_slug=agent.slug if agent and layer != "tenant" else "", platform=platform, key=key,
            action=action, old=old, new=value, actor=actor.name, request_id=actor.request_id,
        )
        audit.record(actor, f"config.{action}", "config", f"{layer}:{change.agent_slug or '-'}:{platform or '-'}:{key}", {"old": old, "new": value})
        forget_cached_config()
    return change


def set_config_value(layer: str, key: str, value: Any, *, agent: Agent | None = None, platform: str | None = None, actor: Actor = SYSTEM) -> ConfigChange:
    _check_target(layer, key, agent, platform)
    try:
        cleaned = SCHEMA[key].clean(value)
    except ValueError as problem:
        raise ValidationError({key: [str(problem)]}) from None
    return _change(layer, key, cleaned, agent=agent, platform=platform, actor=actor, action="set")


def set_config_values(layer: str, values: dict[str, Any], *, agent: Agent | None = None, platform: str | None = None, actor: Actor = SYSTEM) -> list[ConfigChange]:
    """Set several values at one layer; nothing is written unless every value is valid."""
    problems: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        try:
            _check_target(layer, key, agent, platform)
            cleaned[key] = SCHEMA[key].clean(value)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                problems.setdefault(field, []).extend(messages)
        except ValueError as problem:
            problems[key] = [str(problem)]
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        return [_change(layer, k, v, agent=agent, platform=platform, actor=actor, action="set") for k, v in cleaned.items()]


def clear_config_value(layer: str, key: str, *, agent: Agent | None = None, platform: str | None = None, actor: Actor = SYSTEM) -> ConfigChange:
    _check_target(layer, key, agent, platform)
    return _change(layer, key, None, agent=agent, platform=platform, actor=actor, action="clear")


def config_history(*, agent: Agent | None = None, key: str | None = None, layer: str | None = None):
    changes = ConfigChange.objects.all()
    if agent is not None:
        changes = changes.filter(agent_slug__in=[agent.slug, ""])
    if key:
        changes = changes.filter(key=key)
    if layer:
        changes = changes.filter(layer=layer)
    return changes


def rollback_config(change: ConfigChange | int, actor: Actor = SYSTEM) -> ConfigChange:
    """Put back the value a history entry replaced (clearing the layer if it had none)."""
    if not isinstance(change, ConfigChange):
        found = ConfigChange.objects.filter(pk=change).first()
        if found is None:
            raise ValidationError({"change": ["No such history entry."]})
        change = found
    agent = None
    if change.layer != "tenant":
        agent = Agent.objects.filter(slug=change.agent_slug).first()
        if agent is None:
            raise ValidationError({"change": ["The agent of this change no longer exists."]})
    if change.key not in SCHEMA:
        raise ValidationError({"change": ["This setting no longer exists."]})
    return _change(change.layer, change.key, change.old, agent=agent, platform=change.platform, actor=actor, action="rollback")


def export_config(agent: Agent | None = None) -> dict[str, Any]:
    """The tenant layer and each agent's own layers, as JSON that `import_config` reads back."""
    agents = [agent] if agent is not None else list(Agent.objects.all())
    exported: dict[str, Any] = {
        "version": 1,
        "tenant": {r.key: r.value for r in ConfigValue.objects.filter(layer="tenant") if r.key in SCHEMA},
        "agents": {},
    }
    for item in agents:
        own = {name: getattr(item, name) for name in AGENT_ROW_KEYS if getattr(item, name)}
        own.update({r.key: r.value for r in ConfigValue.objects.filter(layer="agent", agent=item) if r.key in SCHEMA})
        platforms: dict[str, dict[str, Any]] = {}
        for row in ConfigValue.objects.filter(layer="platform", agent=item):
            if row.key in SCHEMA:
                platforms.setdefault(row.platform, {})[row.key] = row.value
        exported["agents"][item.slug] = {"agent": own, "platforms": platforms}
    return exported


def import_config(data: Any, actor: Actor = SYSTEM) -> int:
    """Apply an export. Every value is checked first; on any problem nothing changes.

    Returns the number of values written. Agents named in the file must exist.
    """
    if not isinstance(data, dict) or not isinstance(data.get("tenant", {}), dict) or not isinstance(data.get("agents", {}), dict):
        raise ValidationError({"config": ['Give {"tenant": {...}, "agents": {"<slug>": {"agent": {...}, "platforms": {...}}}}.']})
    plan: list[tuple[str, str, Any, Agent | None, str | None]] = []
    problems: dict[str, list[str]] = {}

    def check(path: str, layer: str, values: Any, agent: Agent | None, platform: str | None) -> None:
        if not isinstance(values, dict):
            problems[path] = ["Give an object of setting → value."]
            return
        for key, value in values.items():
            try:
                _check_target(layer, key, agent, platform)
                plan.append((layer, key, SCHEMA[key].clean(value), agent, platform))
            except ValidationError as error:
                problems[f"{path}.{key}"] = [m for ms in error.message_dict.values() for m in ms]
            except ValueError as problem:
                problems[f"{path}.{key}"] = [str(problem)]

    check("tenant", "tenant", data.get("tenant", {}), None, None)
    for slug, section in data.get("agents", {}).items():
        agent = Agent.objects.filter(slug=slug).first()
        if agent is None or not isinstance(section, dict):
            problems[f"agents.{slug}"] = ["No such agent." if agent is None else "Give an object."]
            continue
        check(f"agents.{slug}.agent", "agent", section.get("agent", {}), agent, None)
        for platform, values in (section.get("platforms") or {}).items():
            check(f"agents.{slug}.platforms.{platform}", "platform", values, agent, platform)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        for layer, key, value, agent, platform in plan:
            _change(layer, key, value, agent=agent, platform=platform, actor=actor, action="import")
    return len(plan)
