"""Import MaiBot's `model_config.toml`: the same providers, models and task lists.

The file has `[[api_providers]]` (name, base_url, api_key — text or a list of keys —,
client_type, max_retry, timeout), `[[models]]` (model_identifier, name, api_provider,
price_in, price_out) and `[model_task_config.<task>]` (model_list, temperature,
max_tokens). We speak only the OpenAI-compatible protocol and run five tasks, so the
rest is reported as skipped rather than refused: a real MaiBot file imports as far as
it can apply here. Anything malformed is refused field by field, and then nothing is
written.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from agents import llm_catalog
from agents.audit import SYSTEM, Actor
from agents.models import LLMModel, LLMProvider

OPENAI_CLIENT_TYPES = ("openai",)  # MaiBot's default when client_type is absent


@dataclass
class ImportSummary:
    providers: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one sentence per thing left out


def import_model_config_toml(text: str, actor: Actor = SYSTEM) -> ImportSummary:
    """Create or update the tenant's providers, models and task lists from the file.

    Runs inside the tenant's schema. All or nothing: any invalid entry raises a
    ValidationError naming it (e.g. `models[2].provider`) and nothing changes.
    """
    data = _parse(text)
    summary = ImportSummary()
    with transaction.atomic():
        skipped_providers = _import_providers(_tables(data, "api_providers"), actor, summary)
        imported_models = _import_models(_tables(data, "models"), skipped_providers, actor, summary)
        _import_tasks(data.get("model_task_config") or {}, imported_models, actor, summary)
    return summary


def _parse(text: str) -> dict[str, Any]:
    if not isinstance(text, str):
        raise ValidationError({"file": ["Give the file's text."]})
    if len(text.encode()) > settings.MODEL_CONFIG_IMPORT_MAX_BYTES:
        raise ValidationError({"file": [f"The file is larger than {settings.MODEL_CONFIG_IMPORT_MAX_BYTES} bytes."]})
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValidationError({"file": [f"Not valid TOML: {error}"]}) from None


def _tables(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    entries = data.get(name, [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ValidationError({name: [f"Give [[{name}]] tables."]})
    return entries


def _prefixed(prefix: str, error: ValidationError) -> ValidationError:
    return ValidationError({f"{prefix}.{name}": messages for name, messages in error.message_dict.items()})


def _name(value: Any) -> str:
    """A name to look up; one the database cannot hold finds nothing (and is refused on create)."""
    name = str(value or "").strip()
    return "" if "\x00" in name else name


def _import_providers(entries: list[dict[str, Any]], actor: Actor, summary: ImportSummary) -> set[str]:
    """Create or update each OpenAI-compatible provider; return the names left out."""
    skipped: set[str] = set()
    for index, entry in enumerate(entries):
        name = entry.get("name")
        client_type = entry.get("client_type", "openai")
        if client_type not in OPENAI_CLIENT_TYPES:
            skipped.add(str(name))
            summary.skipped.append(f"provider {name}: client_type {client_type!r} is not OpenAI-compatible")
            continue
        key = entry.get("api_key", "")
        fields: dict[str, Any] = {
            "name": name,
            "base_url": entry.get("base_url"),
            # MaiBot rotates through a list of keys; we keep the first.
            "api_key": (key[0] if key else "") if isinstance(key, list) else key,
        }
        if "timeout" in entry:
            fields["timeout_seconds"] = entry["timeout"]
        if "max_retry" in entry:
            fields["max_retries"] = entry["max_retry"]
        try:
            existing = LLMProvider.objects.filter(name=_name(name)).first()
            if existing:
                llm_catalog.update_provider(existing, fields, actor=actor)
            else:
                llm_catalog.create_provider(actor=actor, **fields)
        except ValidationError as error:
            raise _prefixed(f"api_providers[{index}]", error) from None
        summary.providers.append(str(name).strip())
    return skipped


def _import_models(entries: list[dict[str, Any]], skipped_providers: set[str], actor: Actor, summary: ImportSummary) -> set[str]:
    """Create or update each model of an imported provider; return the names imported."""
    imported: set[str] = set()
    for index, entry in enumerate(entries):
        name = entry.get("name")
        if entry.get("api_provider") in skipped_providers:
            summary.skipped.append(f"model {name}: its provider {entry.get('api_provider')} was skipped")
            continue
        fields = {
            "name": name,
            "identifier": entry.get("model_identifier"),
            "provider": entry.get("api_provider"),
            "price_in": entry.get("price_in", 0),
            "price_out": entry.get("price_out", 0),
        }
        try:
            existing = LLMModel.objects.filter(name=_name(name)).first()
            model = (
                llm_catalog.update_model(existing, fields, actor=actor)
                if existing
                else llm_catalog.create_model(actor=actor, **fields)
            )
        except ValidationError as error:
            raise _prefixed(f"models[{index}]", error) from None
        imported.add(model.name)
        summary.models.append(model.name)
    return imported


def _import_tasks(tasks: Any, imported_models: set[str], actor: Actor, summary: ImportSummary) -> None:
    if not isinstance(tasks, dict):
        raise ValidationError({"model_task_config": ["Give [model_task_config.<task>] tables."]})
    known_models = imported_models | set(LLMModel.objects.values_list("name", flat=True))
    for task, entry in tasks.items():
        if task not in llm_catalog.TASKS:
            summary.skipped.append(f"task {task}: not a task here (tasks are {', '.join(llm_catalog.TASKS)})")
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("model_list", []), list):
            raise ValidationError({f"model_task_config.{task}.model_list": ["Give a list of model names."]})
        names = [str(name) for name in entry.get("model_list", [])]
        missing = [name for name in names if name not in known_models]
        if missing:
            # MaiBot's own sample names models it does not define; keep the ones we have.
            summary.skipped.append(f"task {task}: unknown model(s) {', '.join(missing)} left out of its list")
        try:
            llm_catalog.set_task_models(
                task, [name for name in names if name in known_models], actor=actor,
                temperature=entry.get("temperature"), max_tokens=entry.get("max_tokens"),
            )
        except ValidationError as error:
            raise _prefixed(f"model_task_config.{task}", error) from None
        summary.tasks.append(task)
