from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client

from tenants.models import Tenant


def _staff_client() -> Client:
    user = get_user_model().objects.create_superuser(username="root@example.com", email="root@example.com", password="x")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def test_the_tenant_list_shows_status_plan_agents_and_usage(tenant_a):
    page = _staff_client().get("/admin/tenants/tenant/").content.decode()

    assert "alpha" in page and "beta" in page
    lowered = page.lower()
    assert "agents" in lowered and "tokens today" in lowered and "cost this month" in lowered


def test_suspending_asks_for_confirmation_first(tenant_a):
    staff = _staff_client()
    form = {"action": "suspend", "_selected_action": [tenant_a.pk]}

    asked = staff.post("/admin/tenants/tenant/", form)
    tenant_a.refresh_from_db()
    status_after_asking = tenant_a.status
    staff.post("/admin/tenants/tenant/", {**form, "confirmed": "yes"})
    tenant_a.refresh_from_db()

    assert "Suspend organisations?" in asked.content.decode() and status_after_asking == "active"
    assert tenant_a.status == "suspended"
    staff.post("/admin/tenants/tenant/", {"action": "resume", "_selected_action": [tenant_a.pk], "confirmed": "yes"})
    tenant_a.refresh_from_db()
    assert tenant_a.status == "active"


def test_the_bulk_delete_without_schema_drop_is_not_offered(tenant_a):
    page = _staff_client().get("/admin/tenants/tenant/").content.decode()

    assert "delete_selected" not in page
    assert "delete_with_schema" in page
    assert Tenant.objects.filter(pk=tenant_a.pk).exists()


def test_staff_pages_do_not_offer_chat_content(tenant_a):
    index = _staff_client().get("/admin/").content.decode()

    assert "/admin/chat/" not in index and "/admin/memory/" not in index
