from __future__ import annotations

from django_tenants.utils import tenant_context

from agents.models import Agent


def test_a_row_written_in_one_tenant_is_invisible_from_the_other(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        Agent.objects.create(slug="helper", name="Helper of A")

    with tenant_context(tenant_b):
        assert not Agent.objects.filter(slug="helper").exists()
        assert Agent.objects.count() == 0
    with tenant_context(tenant_a):
        assert Agent.objects.get(slug="helper").name == "Helper of A"


def test_the_same_slug_can_exist_in_both_tenants_independently(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        Agent.objects.create(slug="mai", name="A's Mai")
    with tenant_context(tenant_b):
        Agent.objects.create(slug="mai", name="B's Mai")

    with tenant_context(tenant_a):
        assert list(Agent.objects.values_list("name", flat=True)) == ["A's Mai"]
    with tenant_context(tenant_b):
        assert list(Agent.objects.values_list("name", flat=True)) == ["B's Mai"]
