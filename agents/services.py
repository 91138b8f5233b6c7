"""Every change to a tenant's agents and their API keys: validated, written, audited."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from agents import audit
from agents.audit import Actor
from agents.config import forget_cached_config
from agents.models import Agent
from agents.templates import get_template
from maibot.errors import Conflict, LimitReached
from tenants import apikeys
from tenants.models import ApiKey, Tenant

AGENT_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
PLATFORM_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")
EDITABLE_FIELDS = ("name", "persona", "reply_style", "platform_accounts", "is_active")
MAX_PERSONA = 4000
MAX_REPLY_STYLE = 2000


RESERVED_AGENT_SLUGS = frozenset({"from-template"})


def _check_slug(slug: str) -> None:
    if slug in RESERVED_AGENT_SLUGS:
        raise ValidationError({"slug": [f"The slug {slug!r} is reserved; choose another."]})
    if not AGENT_SLUG.match(slug or ""):
        raise ValidationError({"slug": ["Use 1-40 lowercase letters, digits and hyphens, not starting or ending with a hyphen."]})


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate editable fields one by one; all problems are reported together."""
    problems: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for field, value in fields.items():
        if field not in EDITABLE_FIELDS:
            problems[field] = ["This field cannot be changed."]
        elif field == "name":
            if not isinstance(value, str) or not value.strip() or len(value) > 100:
                problems[field] = ["Give a name of 1-100 characters."]
            else:
                cleaned[field] = value.strip()
        elif field in ("persona", "reply_style"):
            limit = MAX_PERSONA if field == "persona" else MAX_REPLY_STYLE
            if not isinstance(value, str) or len(value) > limit:
                problems[field] = [f"Give text of at most {limit} characters."]
            else:
                cleaned[field] = value.strip()
        elif field == "platform_accounts":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and PLATFORM_NAME.match(k) and isinstance(v, (str, int)) and 0 < len(str(v)) <= 64
                for k, v in value.items()
            ):
                problems[field] = ['Give an object of platform → account id, e.g. {"qq": "10001"}.']
            else:
                cleaned[field] = {k: str(v) for k, v in value.items()}
        elif field == "is_active":
            if not isinstance(value, bool):
                problems[field] = ["Give true or false."]
            else:
                cleaned[field] = value
    if problems:
        raise ValidationError(problems)
    return cleaned


def _snapshot(agent: Agent) -> dict[str, Any]:
    return {field: getattr(agent, field) for field in EDITABLE_FIELDS}


def _lock_tenant(tenant: Tenant) -> Tenant:
    # Serialises agent creation per tenant so two concurrent creates cannot pass the limit.
    return Tenant.objects.select_for_update().get(pk=tenant.pk)


def create_agent(tenant: Tenant, *, slug: str, name: str, actor: Actor, **fields: Any) -> Agent:
    """Create an agent within the plan's agent limit. Runs inside the tenant's schema."""
    _check_slug(slug)
    cleaned = _clean({"name": name, **fields})
    with transaction.atomic():
        locked = _lock_tenant(tenant)
        limit = locked.plan.max_agents if locked.plan else None
        if limit is not None and Agent.objects.count() >= limit:
            raise LimitReached(f"The {locked.plan} plan allows {limit} agent(s); delete one or change plan.")
        if Agent.objects.filter(slug=slug).exists():
            raise Conflict(f"An agent with slug {slug!r} already exists.")
        agent = Agent.objects.create(slug=slug, **cleaned)
        audit.record(actor, "agent.create", "agent", agent.slug, _snapshot(agent))
    return agent


def create_agent_from_template(tenant: Tenant, template_key: str, *, slug: str, actor: Actor, name: str | None = None) -> Agent:
    template = get_template(template_key)
    if template is None:
        raise ValidationError({"template": [f"No template {template_key!r}."]})
    return create_agent(
        tenant, slug=slug, name=name or template.name, persona=template.persona,
        reply_style=template.reply_style, actor=actor,
    )


def update_agent(agent: Agent, changes: dict[str, Any], *, actor: Actor) -> Agent:
    cleaned = _clean(changes)
    before = _snapshot(agent)
    with transaction.atomic():
        for field, value in cleaned.items():
            setattr(agent, field, value)
        agent.save()
        diff = {f: {"old": before[f], "new": v} for f, v in cleaned.items() if before[f] != v}
        if diff:
            audit.record(actor, "agent.update", "agent", agent.slug, diff)
            # persona and reply_style are the agent layer of the config
            forget_cached_config()
            transaction.on_commit(forget_cached_config)
    return agent


def clone_agent(tenant: Tenant, source: Agent, *, slug: str, actor: Actor, name: str | None = None) -> Agent:
    fields = _snapshot(source)
    fields.pop("name")
    clone = create_agent(tenant, slug=slug, name=name or f"{source.name} (copy)", actor=actor, **fields)
    audit.record(actor, "agent.clone", "agent", clone.slug, {"from": source.slug})
    return clone


def delete_agent(tenant: Tenant, agent: Agent, *, actor: Actor) -> None:
    """Delete an agent and everything it owns; its API keys stop working at once."""
    with transaction.atomic():
        revoked = apikeys.revoke_agent_keys(tenant, agent.slug)
        slug = agent.slug
        agent.delete()
        audit.record(actor, "agent.delete", "agent", slug, {"revoked_keys": revoked})


def issue_key(
    tenant: Tenant, agent: Agent, *, name: str, scopes: list[str], actor: Actor, expires: datetime | None = None
) -> apikeys.IssuedKey:
    issued = apikeys.issue_api_key(tenant, agent.slug, name=name, scopes=scopes, expires=expires, actor=actor.name)
    audit.record(actor, "key.create", "api_key", issued.key.pk, {"agent": agent.slug, "prefix": issued.key.prefix, "scopes": issued.key.scopes})
    return issued


def revoke_key(key: ApiKey, *, actor: Actor) -> ApiKey:
    apikeys.revoke_api_key(key)
    audit.record(actor, "key.revoke", "api_key", key.pk, {"agent": key.agent_slug, "prefix": key.prefix})
    return key


def rotate_key(key: ApiKey, *, actor: Actor) -> apikeys.IssuedKey:
    issued = apikeys.rotate_api_key(key, actor=actor.name)
    audit.record(actor, "key.rotate", "api_key", key.pk, {"agent": key.agent_slug, "new_key": issued.key.pk, "old_key_expires": key.expires})
    return issued
