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
