from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import tenant_context

from agents.models import AuditEntry
from tenants.models import Tenant


def _staff() -> Client:
    user = get_user_model().objects.create_user(username="staff@example.com", password="x", is_staff=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def test_staff_list_suspend_resume_and_change_plan(tenant_a):
    staff = _staff()

    listed = staff.get("/api/v2/tenants").json()["data"]["items"]
    suspended = staff.post(f"/api/v2/tenants/{tenant_a.slug}/suspend").json()["data"]
    resumed = staff.post(f"/api/v2/tenants/{tenant_a.slug}/resume").json()["data"]
    moved = staff.post(f"/api/v2/tenants/{tenant_a.slug}/plan", {"plan": "pro"}, content_type="application/json")

    assert {t["slug"] for t in listed} >= {"alpha", "beta"}
    assert suspended["status"] == "suspended" and resumed["status"] == "active"
    assert moved.json()["data"]["plan"] == "pro"
    tenant_a.refresh_from_db()
    assert tenant_a.plan.name == "pro"
    with tenant_context(tenant_a):
        actions = list(AuditEntry.objects.order_by("id").values_list("action", "actor"))
    assert actions == [("tenant.suspend", "staff:staff@example.com"), ("tenant.resume", "staff:staff@example.com"), ("tenant.plan", "staff:staff@example.com")]


def test_a_non_staff_user_is_refused(tenant_a):
    user = get_user_model().objects.create_user(username="plain@example.com", password="x")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)

    response = client.post(f"/api/v2/tenants/{tenant_a.slug}/suspend")

    assert response.status_code == 403
    tenant_a.refresh_from_db()
    assert tenant_a.status == "active"


def test_a_hard_delete_needs_the_slug_repeated(db):
    staff = _staff()
    staff.post("/api/v2/tenants", {"slug": "gone", "name": "Gone"}, content_type="application/json")

    refused = staff.delete("/api/v2/tenants/gone", {"confirm": "nope"}, content_type="application/json")
    deleted = staff.delete("/api/v2/tenants/gone", {"confirm": "gone"}, content_type="application/json")

    assert refused.status_code == 400
    assert deleted.status_code == 204
    assert not Tenant.objects.filter(slug="gone").exists()


def test_a_bad_slug_is_refused_with_a_message(db):
    response = _staff().post("/api/v2/tenants", {"slug": "www", "name": "W"}, content_type="application/json")

    assert response.status_code == 400
    assert "reserved" in response.json()["errors"]["non_field_errors"][0]
