"""Shared fixtures: two tenants created once per session, and ways to work inside them."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from tenants import services
from tenants.models import Domain, Tenant
from tests.fakes.openai_server import FakeOpenAI

TENANTS = {"alpha": "Alpha Org", "beta": "Beta Org"}


def _ensure_tenant(slug: str) -> Tenant:
    """Return the session tenant, re-creating its rows if a flushing test removed them.

    Schemas survive a flush of the public tables, so re-creating the row is cheap.
    """
    with schema_context("public"):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            tenant = services.create_tenant(slug=slug, name=TENANTS[slug], owner_email=f"owner@{slug}.example").tenant
            services.forget_hosts(tenant)  # a cached host lookup would still name the flushed row
        elif not Domain.objects.filter(tenant=tenant).exists():
            Domain.objects.create(domain=services.domain_for(slug), tenant=tenant, is_primary=True)
            services.forget_hosts(tenant)
        return tenant


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # noqa: F811 - extends pytest-django's
    with django_db_blocker.unblock():
        for slug in TENANTS:
            _ensure_tenant(slug)


@pytest.fixture
def tenant_a(db) -> Tenant:
    return _ensure_tenant("alpha")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return _ensure_tenant("beta")


@pytest.fixture
def in_tenant_a(tenant_a: Tenant) -> Iterator[Tenant]:
    with tenant_context(tenant_a):
        yield tenant_a


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    yield
    connection.set_schema_to_public()


@pytest.fixture
def host_a(tenant_a: Tenant) -> str:
    return services.domain_for(tenant_a.slug)


@pytest.fixture
def host_b(tenant_b: Tenant) -> str:
    return services.domain_for(tenant_b.slug)


@pytest.fixture(scope="session")
def _openai_server_running() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def openai_server(_openai_server_running: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """A real local OpenAI-compatible server (tests/fakes/openai_server.py), reset per test."""
    _openai_server_running.reset()
    yield _openai_server_running
    _openai_server_running.reset()
