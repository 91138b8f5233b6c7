"""Fixtures for API tests: agents in both tenants, members with each role, keys."""
from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import tenant_context

from agents.models import Agent
from tenants import apikeys
from tenants.models import Membership, Tenant


@pytest.fixture
def make_agent() -> Callable[..., Agent]:
    def make(tenant: Tenant, slug: str = "mai", **fields: object) -> Agent:
        with tenant_context(tenant):
            return Agent.objects.create(slug=slug, name=fields.pop("name", slug.title()), **fields)

    return make


@pytest.fixture
def agent_a(tenant_a: Tenant, make_agent: Callable[..., Agent]) -> Agent:
    return make_agent(tenant_a, "mai", platform_accounts={"qq": "10001"})


@pytest.fixture
def agent_b(tenant_b: Tenant, make_agent: Callable[..., Agent]) -> Agent:
    return make_agent(tenant_b, "mai")


@pytest.fixture
def member_client(host_a: str, tenant_a: Tenant) -> Callable[..., Client]:
    """A dashboard session of a user with the given role in tenant A, on A's host."""

    def make(role: str = "owner", tenant: Tenant | None = None, host: str | None = None) -> Client:
        user = get_user_model().objects.create_user(username=f"{role}-{uuid.uuid4().hex[:8]}@example.com", password="x")
        Membership.objects.create(user=user, tenant=tenant or tenant_a, role=role)
        client = Client(HTTP_HOST=host or host_a)
        client.force_login(user)
        return client

    return make


@pytest.fixture
def key_for() -> Callable[..., str]:
    """The plaintext of a fresh key for (tenant, agent) with the given scopes."""

    def make(tenant: Tenant, agent_slug: str = "mai", scopes: tuple[str, ...] = ("chat", "config_read")) -> str:
        return apikeys.issue_api_key(tenant, agent_slug, name="test", scopes=list(scopes)).plaintext

    return make


def key_client(host: str, key: str) -> Client:
    return Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {key}")
