"""The control plane, in the public schema: plans, tenants, domains, memberships."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Plan(models.Model):
    """Limits a tenant works within. Zero means the resource is not offered."""

    name = models.SlugField(max_length=50, unique=True)
    display_name = models.CharField(max_length=100)
    max_agents = models.PositiveIntegerField(default=3)
    daily_tokens = models.PositiveBigIntegerField(default=1_000_000)
    monthly_cost = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("50"))
    daily_requests = models.PositiveIntegerField(default=10_000)
    max_memories = models.PositiveIntegerField(default=100_000)

    def __str__(self) -> str:
        return self.display_name


class Tenant(TenantMixin):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    # Schemas are created by provisioning (tenants.services), which times and logs it.
    auto_create_schema = True
    # A hard delete drops the schema with everything the tenant owns.
    auto_drop_schema = True

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Domain(DomainMixin):
    def __str__(self) -> str:
        return self.domain


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="one_membership_per_tenant")]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} as {self.role}"


class ApiKey(models.Model):
    """The public index of agent API keys: a key alone names its tenant and agent.

    Only an HMAC digest of the whole key is stored; the plaintext is shown once at issue.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    agent_slug = models.SlugField(max_length=40)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=120)  # the readable head of the key, for lists
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    version = models.PositiveSmallIntegerField(default=1)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True)
    expires = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["tenant", "agent_slug"], name="apikey_tenant_agent")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"
