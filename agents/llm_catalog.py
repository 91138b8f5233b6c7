"""LLM providers, models and per-task model lists: every change, validated and audited."""
from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from agents import audit
from agents.audit import Actor
from agents.models import LLMModel, LLMProvider, TaskModelList
from agents.secrets import decrypt, encrypt

TASKS = tuple(TaskModelList.Task.values)
MAX_TIMEOUT = 600.0
MAX_RETRIES = 10
MAX_PRICE = Decimal("100000")


def _problems_to_error(problems: dict[str, list[str]]) -> None:
    if problems:
        raise ValidationError(problems)


def _clean_provider(fields: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    problems: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    if "name" in fields or creating:
        name = str(fields.get("name") or "").strip()
        if not name or len(name) > 60:
            problems["name"] = ["Give a name of 1-60 characters."]
        cleaned["name"] = name
    if "base_url" in fields or creating:
        url = str(fields.get("base_url") or "").strip()
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or len(url) > 300:
            problems["base_url"] = ["Give the http(s) base URL of an OpenAI-compatible API, e.g. https://api.deepseek.com/v1."]
        cleaned["base_url"] = url.rstrip("/")
    if "timeout_seconds" in fields:
        try:
            timeout = float(fields["timeout_seconds"])
            assert 1 <= timeout <= MAX_TIMEOUT
            cleaned["timeout_seconds"] = timeout
        except (TypeError, ValueError, AssertionError):
            problems["timeout_seconds"] = [f"Give 1-{MAX_TIMEOUT:g} seconds."]
    if "max_retries" in fields:
        retries = fields["max_retries"]
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
            problems["max_retries"] = [f"Give a whole number from 0 to {MAX_RETRIES}."]
        else:
            cleaned["max_retries"] = retries
    if "api_key" in fields:
        key = fields["api_key"]
        if not isinstance(key, str) or len(key) > 500:
            problems["api_key"] = ["Give the API key as text (at most 500 characters)."]
        else:
            cleaned["api_key_encrypted"] = encrypt(key.strip())
    _problems_to_error(problems)
    return cleaned


def create_provider(*, actor: Actor, **fields: Any) -> LLMProvider:
    cleaned = _clean_provider(fields, creating=True)
    if LLMProvider.objects.filter(name=cleaned["name"]).exists():
        raise ValidationError({"name": [f"A provider named {cleaned['name']!r} exists."]})
    provider = LLMProvider.objects.create(**cleaned)
    audit.record(actor, "provider.create", "llm_provider", provider.name, {"base_url": provider.base_url, "api_key": "set" if provider.has_api_key else "none"})
    return provider


def update_provider(provider: LLMProvider, changes: dict[str, Any], *, actor: Actor) -> LLMProvider:
    cleaned = _clean_provider(changes, creating=False)
    if "name" in cleaned and LLMProvider.objects.exclude(pk=provider.pk).filter(name=cleaned["name"]).exists():
        raise ValidationError({"name": [f"A provider named {cleaned['name']!r} exists."]})
    for name, value in cleaned.items():
        setattr(provider, name, value)
    provider.save()
    recorded = {k: ("changed" if k == "api_key_encrypted" else v) for k, v in cleaned.items()}
    audit.record(actor, "provider.update", "llm_provider", provider.name, recorded)
    return provider


def delete_provider(provider: LLMProvider, *, actor: Actor) -> None:
    name = provider.name
    models = list(provider.models.values_list("name", flat=True))
    provider.delete()
    audit.record(actor, "provider.delete", "llm_provider", name, {"models_removed": models})


def _clean_model(fields: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    problems: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, limit in (("name", 100), ("identifier", 200)):
        if name in fields or creating:
            value = str(fields.get(name) or "").strip()
            if not value or len(value) > limit:
                problems[name] = [f"Give 1-{limit} characters."]
            cleaned[name] = value
    if "provider" in fields or creating:
        provider = fields.get("provider")
        if not isinstance(provider, LLMProvider):
            provider = LLMProvider.objects.filter(name=str(provider or "")).first()
        if provider is None:
            problems["provider"] = ["No such provider."]
        cleaned["provider"] = provider
    for name in ("price_in", "price_out"):
        if name in fields:
            try:
                price = Decimal(str(fields[name]))
                assert Decimal(0) <= price <= MAX_PRICE
                cleaned[name] = price
            except (InvalidOperation, AssertionError):
                problems[name] = [f"Give a price per million tokens from 0 to {MAX_PRICE}."]
    _problems_to_error(problems)
    return cleaned


def create_model(*, actor: Actor, **fields: Any) -> LLMModel:
    cleaned = _clean_model(fields, creating=True)
    if LLMModel.objects.filter(name=cleaned["name"]).exists():
        raise ValidationError({"name": [f"A model named {cleaned['name']!r} exists."]})
    model = LLMModel.objects.create(**cleaned)
    audit.record(actor, "model.create", "llm_model", model.name, {"provider": model.provider.name, "identifier": model.identifier, "price_in": model.price_in, "price_out": model.price_out})
    return model


def update_model(model: LLMModel, changes: dict[str, Any], *, actor: Actor) -> LLMModel:
    cleaned = _clean_model(changes, creating=False)
    if "name" in cleaned and LLMModel.objects.exclude(pk=model.pk).filter(name=cleaned["name"]).exists():
        raise ValidationError({"name": [f"A model named {cleaned['name']!r} exists."]})
    for name, value in cleaned.items():
        setattr(model, name, value)
    model.save()
    audit.record(actor, "model.update", "llm_model", model.name, {k: str(v) for k, v in cleaned.items()})
    return model


def delete_model(model: LLMModel, *, actor: Actor) -> None:
    name = model.name
    model.delete()
    audit.record(actor, "model.delete", "llm_model", name)


def set_task_models(
    task: str, model_names: list[str], *, actor: Actor, temperature: float | None = None, max_tokens: int | None = None
) -> TaskModelList:
    problems: dict[str, list[str]] = {}
    if task not in TASKS:
        problems["task"] = [f"Choose one of: {', '.join(TASKS)}."]
    if not isinstance(model_names, list) or len(model_names) > 10:
        problems["model_names"] = ["Give a list of at most 10 model names."]
    else:
        missing = sorted(set(model_names) - set(LLMModel.objects.filter(name__in=model_names).values_list("name", flat=True)))
        if missing:
            problems["model_names"] = [f"No such model(s): {', '.join(missing)}."]
    if temperature is not None and not (isinstance(temperature, (int, float)) and 0 <= temperature <= 2):
        problems["temperature"] = ["Give a temperature from 0 to 2."]
    if max_tokens is not None and not (isinstance(max_tokens, int) and 1 <= max_tokens <= 128_000):
        problems["max_tokens"] = ["Give 1-128000 tokens."]
    _problems_to_error(problems)
    task_list, _ = TaskModelList.objects.update_or_create(
        task=task, defaults={"model_names": list(dict.fromkeys(model_names)), "temperature": temperature, "max_tokens": max_tokens}
    )
    audit.record(actor, "task_models.set", "task_models", task, {"model_names": task_list.model_names, "temperature": temperature, "max_tokens": max_tokens})
    return task_list


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    status: int | None
    latency_ms: int
    models: list[str]
    error: str = ""


def test_provider_connection(provider: LLMProvider) -> ConnectionCheck:
    """Ask the provider for its model list with its own key; report what happened."""
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {decrypt(provider.api_key_encrypted)}"} if provider.has_api_key else {}
    timeout = min(provider.timeout_seconds, settings.LLM_TEST_CONNECTION_TIMEOUT)
    try:
        response = httpx.get(f"{provider.base_url}/models", headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        return ConnectionCheck(False, None, int((time.monotonic() - started) * 1000), [], f"{type(error).__name__}: {error}"[:300])
    latency = int((time.monotonic() - started) * 1000)
    if response.status_code != 200:
        return ConnectionCheck(False, response.status_code, latency, [], response.text[:300])
    try:
        ids = [str(item.get("id")) for item in response.json().get("data", [])][:200]
    except (ValueError, AttributeError):
        return ConnectionCheck(False, 200, latency, [], "The answer was not an OpenAI-style model list.")
    return ConnectionCheck(True, 200, latency, ids)


@dataclass
class ImportSummary:
    providers: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def import_model_config_toml(text: str, *, actor: Actor) -> ImportSummary:
    """Create or update providers, models and task lists from MaiBot's model_config.toml.

    `[[api_providers]]` (name, base_url, api_key, max_retry, timeout), `[[models]]`
    (name, model_identifier, api_provider, price_in, price_out) and
    `[model_task_config.<task>]` (model_list, temperature, max_tokens). Tasks we do not
    run are listed as skipped. All or nothing.
    """
    if len(text.encode()) > settings.MODEL_CONFIG_IMPORT_MAX_BYTES:
        raise ValidationError({"file": [f"The file is larger than {settings.MODEL_CONFIG_IMPORT_MAX_BYTES} bytes."]})
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValidationError({"file": [f"Not valid TOML: {error}"]}) from None
    summary = ImportSummary()
    with transaction.atomic():
        for index, entry in enumerate(data.get("api_providers", [])):
            fields = {"name": entry.get("name"), "base_url": entry.get("base_url")}
            key = entry.get("api_key", "")
            fields["api_key"] = key[0] if isinstance(key, list) and key else key if isinstance(key, str) else ""
            if "timeout" in entry:
                fields["timeout_seconds"] = entry["timeout"]
            if "max_retry" in entry:
                fields["max_retries"] = entry["max_retry"]
            try:
                existing = LLMProvider.objects.filter(name=fields["name"]).first()
                if existing:
                    update_provider(existing, fields, actor=actor)
                else:
                    create_provider(actor=actor, **fields)
            except ValidationError as error:
                raise ValidationError({f"api_providers[{index}].{k}": v for k, v in error.message_dict.items()}) from None
            summary.providers.append(fields["name"])
        for index, entry in enumerate(data.get("models", [])):
            fields = {
                "name": entry.get("name"), "identifier": entry.get("model_identifier"), "provider": entry.get("api_provider"),
                "price_in": entry.get("price_in", 0), "price_out": entry.get("price_out", 0),
            }
            try:
                existing = LLMModel.objects.filter(name=fields["name"]).first()
                if existing:
                    update_model(existing, fields, actor=actor)
                else:
                    create_model(actor=actor, **fields)
            except ValidationError as error:
                raise ValidationError({f"models[{index}].{k}": v for k, v in error.message_dict.items()}) from None
            summary.models.append(fields["name"])
        for task, entry in (data.get("model_task_config") or {}).items():
            if task not in TASKS:
                summary.skipped.append(task)
                continue
            try:
                set_task_models(
                    task, list(entry.get("model_list", [])), actor=actor,
                    temperature=entry.get("temperature"), max_tokens=entry.get("max_tokens"),
                )
            except ValidationError as error:
                raise ValidationError({f"model_task_config.{task}.{k}": v for k, v in error.message_dict.items()}) from None
            summary.tasks.append(task)
    return summary
