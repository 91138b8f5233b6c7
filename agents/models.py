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
