"""Provisioning: every state change of a tenant goes through these functions."""
from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django_tenants.utils import schema_context

from tenants.models import Domain, Membership, Plan, Tenant

logger = logging.getLogger(__name__)

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
RESERVED_SLUGS = frozenset(
    {
        "www", "api", "admin", "public", "static", "media", "app", "dashboard", "mail",
        "smtp", "ftp", "ws", "status", "help", "support", "docs", "staff", "internal",
        "root", "system", "default", "test", "localhost", "pg", "information-schema",
    }
)
DEFAULT_PLAN = "free"


@dataclass(frozen=True)
class ProvisionedTenant:
    tenant: Tenant
    owner_password: str | None  # set only when the owner account was created now
    seconds: float


def validate_slug(slug: str) -> str:
    if not SLUG_PATTERN.match(slug or ""):
        raise ValidationError(
            f"Invalid slug {slug!r}: use 1-40 lowercase letters, digits and hyphens, "
            "starting and ending with a letter or digit.",
            code="invalid_slug",
        )
    if slug in RESERVED_SLUGS or slug.startswith("pg-"):
        raise ValidationError(f"The slug {slug!r} is reserved; choose another.", code="reserved_slug")
    if Tenant.objects.filter(slug=slug).exists():
        raise ValidationError(f"A tenant with slug {slug!r} already exists.", code="duplicate_slug")
    return slug


def schema_name_for(slug: str) -> str:
    # Hyphens are not allowed unquoted in schema names; slugs never contain underscores.
    return "t_" + slug.replace("-", "_")


def domain_for(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def default_plan() -> Plan:
    plan, _ = Plan.objects.get_or_create(name=DEFAULT_PLAN, defaults={"display_name": "Free"})
    return plan


def create_tenant(
    *, slug: str, name: str, owner_email: str | None = None, plan: Plan | None = None
) -> ProvisionedTenant:
    """Create the tenant row, its schema (migrated), its domain and optionally its owner."""
    started = time.monotonic()
    validate_slug(slug)
    if not name.strip():
        raise ValidationError("A tenant needs a name.", code="invalid_name")
    with schema_context("public"):
        tenant = Tenant(slug=slug, name=name.strip(), schema_name=schema_name_for(slug), plan=plan or default_plan())
        tenant.save(verbosity=0)  # creates and migrates the schema
        Domain.objects.create(domain=domain_for(slug), tenant=tenant, is_primary=True)
        password = None
        if owner_email:
            _, password = add_member(tenant, owner_email, Membership.Role.OWNER)
    seconds = time.monotonic() - started
    logger.info("tenant %s created in %.2fs", slug, seconds)
    return ProvisionedTenant(tenant=tenant, owner_password=password, seconds=seconds)


def add_member(tenant: Tenant, email: str, role: str) -> tuple[Membership, str | None]:
    """Give a user (created if new, with a random password returned once) a role in a tenant."""
    User = get_user_model()
    email = User.objects.normalize_email(email).lower()
    password = None
    with transaction.atomic():
        user = User.objects.filter(username=email).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_user(username=email, email=email, password=password)
        membership, _ = Membership.objects.update_or_create(user=user, tenant=tenant, defaults={"role": role})
    return membership, password


def change_role(membership: Membership, role: str, *, by: Membership) -> Membership:
    """Change a member's role; only owners grant or take the owner role, and an
    organisation always keeps at least one owner."""
    if role not in Membership.Role.values:
        raise ValidationError({"role": [f"Choose one of: {', '.join(Membership.Role.values)}."]})
    if (role == "owner" or membership.role == "owner") and by.role != "owner":
        raise ValidationError("Only an owner can grant or take the owner role.")
    if membership.role == "owner" and role != "owner" and _last_owner(membership):
        raise ValidationError("An organisation needs at least one owner.")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


def remove_member(membership: Membership, *, by: Membership) -> None:
    if membership.role == "owner" and by.role != "owner":
        raise ValidationError("Only an owner can remove an owner.")
    if membership.role == "owner" and _last_owner(membership):
        raise ValidationError("An organisation needs at least one owner.")
    membership.delete()


def _last_owner(membership: Membership) -> bool:
    return not Membership.objects.filter(tenant=membership.tenant, role="owner").exclude(pk=membership.pk).exists()


def get_tenant(slug: str) -> Tenant:
    try:
        return Tenant.objects.get(slug=slug)
    except Tenant.DoesNotExist:
        raise ValidationError(f"No tenant with slug {slug!r}.", code="not_found") from None


def list_tenants() -> list[Tenant]:
    return list(Tenant.objects.select_related("plan").order_by("slug"))


def _set_status(slug: str, status: str) -> Tenant:
    tenant = get_tenant(slug)
    tenant.status = status
    tenant.save(update_fields=["status"])
    forget_hosts(tenant)
    logger.info("tenant %s is now %s", slug, status)
    return tenant


def suspend_tenant(slug: str) -> Tenant:
    return _set_status(slug, Tenant.Status.SUSPENDED)


def resume_tenant(slug: str) -> Tenant:
    return _set_status(slug, Tenant.Status.ACTIVE)


def change_plan(slug: str, plan_name: str) -> Tenant:
    tenant = get_tenant(slug)
    plan = Plan.objects.filter(name=plan_name).first()
    if plan is None:
        raise ValidationError({"plan": [f"No plan {plan_name!r}."]})
    tenant.plan = plan
    tenant.save(update_fields=["plan"])
    forget_hosts(tenant)
    logger.info("tenant %s moved to plan %s", slug, plan_name)
    return tenant


def delete_tenant(slug: str) -> None:
    """Hard delete: drops the schema and every public row that belongs to the tenant."""
    tenant = get_tenant(slug)
    forget_hosts(tenant)
    with schema_context("public"):
        # Must run from the public schema; django-tenants refuses to drop otherwise.
        connection.set_schema_to_public()
        tenant.delete(force_drop=True)
    logger.info("tenant %s deleted", slug)


def host_cache_key(host: str) -> str:
    return f"tenant-host:{host}"


def forget_hosts(tenant: Tenant) -> None:
    """Drop cached host lookups so a status change is seen on the next request."""
    with schema_context("public"):
        hosts = list(Domain.objects.filter(tenant=tenant).values_list("domain", flat=True))
        cache.delete_many([host_cache_key(host) for host in hosts])
