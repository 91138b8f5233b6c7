"""Agents (bot personas) of one tenant; lives in the tenant's schema."""
from __future__ import annotations

from django.db import models


class Agent(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    persona = models.TextField(blank=True)
    reply_style = models.TextField(blank=True)
    # Per platform, the bot's own account id there (how it recognises a mention),
    # e.g. {"qq": "10001"}.
    platform_accounts = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class AuditEntry(models.Model):
    """One change made to the tenant's resources: who, what, when, and under which request.

    Kept in the tenant's own schema, so it is as isolated as the data it describes and
    goes with the tenant when the tenant is deleted.
    """

    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.object_type}:{self.object_id}"


class ConfigValue(models.Model):
    """One value set at one layer: tenant (no agent), agent, or platform (agent + platform).

    The agent layer of `persona` and `reply_style` lives on the Agent row instead.
    """

    class Layer(models.TextChoices):
        TENANT = "tenant", "Tenant"
        AGENT = "agent", "Agent"
        PLATFORM = "platform", "Platform"

    layer = models.CharField(max_length=10, choices=Layer.choices)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, null=True, blank=True, related_name="config_values")
    platform = models.CharField(max_length=32, blank=True)
    key = models.CharField(max_length=60)
    value = models.JSONField()
    updated = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["layer", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["layer", "agent", "platform", "key"], name="one_value_per_layer_key", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return f"{self.layer}:{self.agent_id or '-'}:{self.platform or '-'}:{self.key}"


class ConfigChange(models.Model):
    """History of config: every set, clear, rollback and import, with the old and new value."""

    layer = models.CharField(max_length=10)
    agent_slug = models.CharField(max_length=40, blank=True)
    platform = models.CharField(max_length=32, blank=True)
    key = models.CharField(max_length=60)
    action = models.CharField(max_length=20)  # set / clear / rollback / import
    old = models.JSONField(null=True, blank=True)  # null: the layer had no value
    new = models.JSONField(null=True, blank=True)
    actor = models.CharField(max_length=200, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["agent_slug", "key"], name="config_change_agent_key")]

    def __str__(self) -> str:
        return f"{self.action} {self.layer}:{self.agent_slug or '-'}:{self.platform or '-'}:{self.key}"


class LLMProvider(models.Model):
    """An OpenAI-compatible endpoint. Its API key is encrypted at rest and never returned."""

    name = models.CharField(max_length=60, unique=True)
    base_url = models.URLField(max_length=300)
    api_key_encrypted = models.TextField(blank=True)
    timeout_seconds = models.FloatField(default=30.0)
    max_retries = models.PositiveSmallIntegerField(default=2)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted)


class LLMModel(models.Model):
    """A model offered by a provider, with its prices per million tokens."""

    name = models.CharField(max_length=100, unique=True)  # what task lists refer to
    provider = models.ForeignKey(LLMProvider, on_delete=models.CASCADE, related_name="models")
    identifier = models.CharField(max_length=200)  # the model id the provider expects
    price_in = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    price_out = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TaskModelList(models.Model):
    """Which models a task uses, in fallback order, as MaiBot's model_task_config does."""

    class Task(models.TextChoices):
        REPLYER = "replyer", "Replyer"
        PLANNER = "planner", "Planner"
        UTILS = "utils", "Utilities (summaries, merges)"
        EMBEDDING = "embedding", "Embedding"
        VLM = "vlm", "Vision"

    task = models.CharField(max_length=20, choices=Task.choices, unique=True)
    model_names = models.JSONField(default=list)
    temperature = models.FloatField(null=True, blank=True)
    max_tokens = models.PositiveIntegerField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task"]

    def __str__(self) -> str:
        return self.task
