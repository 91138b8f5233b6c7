"""Which concrete endpoints a task's LLM calls go to, in fallback order."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from agents.config import effective_config
from agents.models import Agent, LLMModel, TaskModelList
from agents.secrets import decrypt

logger = logging.getLogger(__name__)

TASKS = tuple(TaskModelList.Task.values)


@dataclass(frozen=True)
class ModelRoute:
    model_name: str
    identifier: str
    base_url: str
    api_key: str
    timeout: float
    max_retries: int
    price_in: Decimal  # per million input tokens
    price_out: Decimal  # per million output tokens
    temperature: float | None
    max_tokens: int | None


def routes_for_task(task: str, agent: Agent | None = None, platform: str | None = None) -> list[ModelRoute]:
    """The task's models, in order: the agent's `models.<task>` setting, else the tenant's list.

    Runs inside the tenant's schema. Names that match no model, and providers whose key
    cannot be decrypted (the encryption keys were changed), are skipped with a log line.
    """
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; tasks are {', '.join(TASKS)}.")
    task_list = TaskModelList.objects.filter(task=task).first()
    names: list[str] = []
    if agent is not None:
        names = effective_config(agent, platform).get(f"models.{task}") or []
    if not names and task_list is not None:
        names = list(task_list.model_names)
    models = {m.name: m for m in LLMModel.objects.select_related("provider").filter(name__in=names)}
    routes = []
    for name in names:
        model = models.get(name)
        if model is None:
            logger.warning("task %s names model %r, which does not exist", task, name)
            continue
        try:
            api_key = decrypt(model.provider.api_key_encrypted)
        except ValueError:
            logger.error("provider %r: its API key cannot be decrypted; set it again", model.provider.name)
            continue
        routes.append(
            ModelRoute(
                model_name=model.name,
                identifier=model.identifier,
                base_url=model.provider.base_url.rstrip("/"),
                api_key=api_key,
                timeout=model.provider.timeout_seconds,
                max_retries=model.provider.max_retries,
                price_in=model.price_in,
                price_out=model.price_out,
                temperature=task_list.temperature if task_list else None,
                max_tokens=task_list.max_tokens if task_list else None,
            )
        )
    return routes
