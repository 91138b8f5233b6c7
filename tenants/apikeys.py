"""Agent API keys: issue, authenticate, revoke and rotate.

A key reads `mmc_{tenant}_{agent}_{random}_v{version}`. The random part carries 160 bits.
Only an HMAC-SHA256 digest of the whole key (keyed by API_KEY_HMAC_SECRET) is stored, so
a leaked table does not leak usable keys; lookups go by digest.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenants.models import ApiKey, Tenant

SCOPES = ("chat", "config_read", "config_write", "memory_read", "memory_write", "admin")
KEY_VERSION = 1
RANDOM_BYTES = 20
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    plaintext: str  # shown to the user once, never stored


@dataclass(frozen=True)
class KeyIdentity:
    """Who a request speaks for when it carries an API key."""

    tenant: Tenant
    agent_slug: str
    scopes: frozenset[str]
    key_id: int
    prefix: str

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


class ApiKeyRejected(Exception):
    """The key cannot be used; `code` is one of invalid_key, revoked, expired, tenant_suspended."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def digest_of(plaintext: str) -> str:
    secret = settings.API_KEY_HMAC_SECRET.encode()
    return hmac.new(secret, plaintext.encode(), hashlib.sha256).hexdigest()


def validate_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValidationError({"scopes": [f"Unknown scope(s): {', '.join(unknown)}. Valid: {', '.join(SCOPES)}."]})
    if not scopes:
        raise ValidationError({"scopes": ["Give at least one scope."]})
    return [scope for scope in SCOPES if scope in scopes]


def _new_plaintext(tenant: Tenant, agent_slug: str) -> tuple[str, str]:
    head = f"mmc_{tenant.slug}_{agent_slug}_"
    plaintext = f"{head}{secrets.token_hex(RANDOM_BYTES)}_v{KEY_VERSION}"
    return plaintext, plaintext[: len(head) + 6]


def issue_api_key(
    tenant: Tenant,
    agent_slug: str,
    *,
    name: str,
    scopes: list[str] | tuple[str, ...],
    expires: datetime | None = None,
    actor: str = "",
) -> IssuedKey:
    """Create a key for one agent of one tenant; the plaintext is returned only here."""
    if not name or not name.strip():
        raise ValidationError({"name": ["A key needs a name."]})
    if expires is not None and expires <= timezone.now():
        raise ValidationError({"expires": ["The expiry must be in the future."]})
    plaintext, prefix = _new_plaintext(tenant, agent_slug)
    key = ApiKey.objects.create(
        tenant=tenant,
        agent_slug=agent_slug,
        name=name.strip()[:100],
        prefix=prefix,
        digest=digest_of(plaintext),
        scopes=validate_scopes(scopes),
        version=KEY_VERSION,
        expires=expires,
        created_by=actor[:200],
    )
    return IssuedKey(key=key, plaintext=plaintext)


def authenticate_api_key(raw: str) -> KeyIdentity:
    """Resolve a presented key to its tenant, agent and scopes, or raise ApiKeyRejected."""
    raw = (raw or "").strip()
    if not raw.startswith("mmc_") or len(raw) > 300:
        raise ApiKeyRejected("invalid_key", "The API key is not valid.")
    digest = digest_of(raw)
    key = ApiKey.objects.select_related("tenant", "tenant__plan").filter(digest=digest).first()
    if key is None or not hmac.compare_digest(key.digest, digest):
        raise ApiKeyRejected("invalid_key", "The API key is not valid.")
    now = timezone.now()
    if key.revoked_at is not None:
        raise ApiKeyRejected("revoked", "The API key has been revoked.")
    if key.expires is not None and key.expires <= now:
        raise ApiKeyRejected("expired", "The API key has expired.")
    if not key.tenant.is_active:
        raise ApiKeyRejected("tenant_suspended", "The organisation is suspended.")
    if key.last_used is None or now - key.last_used > LAST_USED_RESOLUTION:
        # Coarse on purpose: one write a minute per key, not one per request.
        ApiKey.objects.filter(pk=key.pk).update(last_used=now)
    return KeyIdentity(
        tenant=key.tenant,
        agent_slug=key.agent_slug,
        scopes=frozenset(key.scopes),
        key_id=key.pk,
        prefix=key.prefix,
    )


def keys_of_agent(tenant: Tenant, agent_slug: str) -> list[ApiKey]:
    return list(ApiKey.objects.filter(tenant=tenant, agent_slug=agent_slug).order_by("-created"))


def get_key(tenant: Tenant, agent_slug: str, key_id: int) -> ApiKey:
    try:
        return ApiKey.objects.get(tenant=tenant, agent_slug=agent_slug, pk=key_id)
    except (ApiKey.DoesNotExist, ValueError, TypeError):
        raise ApiKey.DoesNotExist(f"No key {key_id} for agent {agent_slug}.") from None


def revoke_api_key(key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def rotate_api_key(key: ApiKey, *, actor: str = "", grace: timedelta | None = None) -> IssuedKey:
    """Issue a successor with the same name and scopes; the old key lives on for a grace period."""
    if key.revoked_at is not None:
        raise ValidationError({"key": ["A revoked key cannot be rotated."]})
    grace = grace if grace is not None else timedelta(seconds=settings.API_KEY_ROTATION_GRACE_SECONDS)
    with transaction.atomic():
        issued = issue_api_key(
            key.tenant, key.agent_slug, name=key.name, scopes=key.scopes, expires=key.expires, actor=actor
        )
        old_deadline = timezone.now() + grace
        key.expires = min(key.expires, old_deadline) if key.expires else old_deadline
        key.replaced_by = issued.key
        key.save(update_fields=["expires", "replaced_by"])
    return issued


def revoke_agent_keys(tenant: Tenant, agent_slug: str) -> int:
    """Used when an agent is deleted: its keys stop working at once."""
    return ApiKey.objects.filter(tenant=tenant, agent_slug=agent_slug, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
