"""LLM providers, models and per-task model lists: every change, validated and audited."""
from __future__ import annotations

import time
from dataclasses import dataclass
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
        if not name or len(name) > 60 or "\x00" in name:
            problems["name"] = ["Give a name of 1-60 characters."]
        cleaned["name"] = name
    if "base_url" in fields or creating:
        url = str(fields.get("base_url") or "").strip()
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or len(url) > 300 or "\x00" in url:
            problems["base_url"] = ["Give the http(s) base URL of an OpenAI-compatible API, e.g. https://api.deepseek.com/v1."]
        cleaned["base_url"] = url.rstrip("/")
    if "timeout_seconds" in fields:
        timeout = fields["timeout_seconds"]
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 1 <= timeout <= MAX_TIMEOUT:
            problems["timeout_seconds"] = [f"Give 1-{MAX_TIMEOUT:g} seconds."]
        else:
            cleaned["timeout_seconds"] = float(timeout)
    if "max_retries" in fields:
        retries = fields["max_retries"]
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
            problems["max_retries"] = [f"Give a whole number from 0 to {MAX_RETRIES}."]
        else:
            cleaned["max_retries"] = retries
    if "api_key" in fields:
        key = fields["api_key"]
        if not isinstance(key, str) or len(key) > 500 or "\x00" in key:
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
    """Delete a provider with its models, and take those models out of the task lists."""
    name = provider.name
    with transaction.atomic():
        models = list(provider.models.values_list("name", flat=True))
        provider.delete()
        for model_name in models:
            _rename_in_task_lists(model_name, None)
        audit.record(actor, "provider.delete", "llm_provider", name, {"models_removed": models})


def _clean_model(fields: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    problems: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, limit in (("name", 100), ("identifier", 200)):
        if name in fields or creating:
            value = str(fields.get(name) or "").strip()
            if not value or len(value) > limit or "\x00" in value:
                problems[name] = [f"Give 1-{limit} characters."]
            cleaned[name] = value
    if "provider" in fields or creating:
        provider = fields.get("provider")
        if not isinstance(provider, LLMProvider):
            provider = None if "\x00" in str(provider) else LLMProvider.objects.filter(name=str(provider or "")).first()
        if provider is None:
            problems["provider"] = ["No such provider."]
        cleaned["provider"] = provider
    for name in ("price_in", "price_out"):
        if name in fields:
            value = fields[name]
            try:
                price = None if isinstance(value, bool) else Decimal(str(value))
            except InvalidOperation:
                price = None
            if price is None or not price.is_finite() or not Decimal(0) <= price <= MAX_PRICE:
                problems[name] = [f"Give a price per million tokens from 0 to {MAX_PRICE}."]
            else:
                cleaned[name] = price
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
    old_name = model.name
    with transaction.atomic():
        for name, value in cleaned.items():
            setattr(model, name, value)
        model.save()
        if model.name != old_name:
            _rename_in_task_lists(old_name, model.name)
        audit.record(actor, "model.update", "llm_model", model.name, {k: str(v) for k, v in cleaned.items()})
    return model


def delete_model(model: LLMModel, *, actor: Actor) -> None:
    """Delete a model and take it out of the tenant's task lists."""
    name = model.name
    with transaction.atomic():
        model.delete()
        tasks = _rename_in_task_lists(name, None)
        audit.record(actor, "model.delete", "llm_model", name, {"removed_from_tasks": tasks})


def _rename_in_task_lists(old: str, new: str | None) -> list[str]:
    """Task lists refer to models by name: follow a rename, or drop a deleted model."""
    touched = []
    for task_list in TaskModelList.objects.select_for_update().filter(model_names__contains=[old]):
        names = [new if name == old else name for name in task_list.model_names]
        task_list.model_names = [name for name in dict.fromkeys(names) if name is not None]
        task_list.save(update_fields=["model_names", "updated"])
        touched.append(task_list.task)
    return touched


def set_task_models(
    task: str, model_names: list[str], *, actor: Actor, temperature: float | None = None, max_tokens: int | None = None
) -> TaskModelList:
    problems: dict[str, list[str]] = {}
    if task not in TASKS:
        problems["task"] = [f"Choose one of: {', '.join(TASKS)}."]
    if not isinstance(model_names, list) or len(model_names) > 10 or not all(isinstance(n, str) and "\x00" not in n for n in model_names):
        problems["model_names"] = ["Give a list of at most 10 model names (text)."]
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
    method: str = "models"  # "models": GET /models answered; "completion": a 1-token completion did


def check_provider_connection(provider: LLMProvider) -> ConnectionCheck:
    """Reach the provider with its own key and report what happened.

    Asks for `GET {base_url}/models`. Some OpenAI-compatible servers do not offer that
    list (404/405); then a one-token chat completion with the provider's first model
    answers instead. The secret never appears in the report, even if the provider
    echoes it back in an error.
    """
    try:
        secret = decrypt(provider.api_key_encrypted) if provider.has_api_key else ""
    except ValueError:
        return ConnectionCheck(False, None, 0, [], "The stored API key cannot be decrypted with the configured keys; set it again.")
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    timeout = min(provider.timeout_seconds, settings.LLM_TEST_CONNECTION_TIMEOUT)
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    def scrub(text: str) -> str:
        return (text.replace(secret, "***") if secret else text)[:300]

    try:
        with httpx.Client(timeout=timeout, headers=headers) as client:
            response = client.get(f"{provider.base_url}/models")
            if response.status_code in (404, 405):
                model = provider.models.order_by("name").first()
                if model is None:
                    return ConnectionCheck(False, response.status_code, elapsed(), [], "The provider lists no models and has no model to try a completion with.")
                response = client.post(
                    f"{provider.base_url}/chat/completions",
                    json={"model": model.identifier, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1},
                )
                if response.status_code != 200:
                    return ConnectionCheck(False, response.status_code, elapsed(), [], scrub(response.text), "completion")
                return ConnectionCheck(True, 200, elapsed(), [model.identifier], method="completion")
    except httpx.HTTPError as error:
        return ConnectionCheck(False, None, elapsed(), [], scrub(f"{type(error).__name__}: {error}"))
    if response.status_code != 200:
        return ConnectionCheck(False, response.status_code, elapsed(), [], scrub(response.text))
    try:
        ids = [str(item.get("id")) for item in response.json().get("data", [])][:200]
    except (ValueError, AttributeError):
        return ConnectionCheck(False, 200, elapsed(), [], "The answer was not an OpenAI-style model list.")
    return ConnectionCheck(True, 200, elapsed(), ids)
