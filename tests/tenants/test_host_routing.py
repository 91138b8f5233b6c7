from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants import services


def test_a_tenant_host_serves_that_tenants_pages(client, tenant_a, host_a):
    response = client.get("/login/", HTTP_HOST=host_a)

    assert response.status_code == 200
    assert f"Sign in to {tenant_a.name}" in response.content.decode()


def test_an_unknown_host_answers_404(client, db):
    response = client.get("/", HTTP_HOST="nobody.localhost")

    assert response.status_code == 404


def test_a_suspended_tenants_host_answers_a_clear_error_page(client, tenant_a, host_a):
    services.suspend_tenant(tenant_a.slug)
    try:
        response = client.get("/", HTTP_HOST=host_a)
    finally:
        services.resume_tenant(tenant_a.slug)

    assert response.status_code == 403
    assert "This organisation is suspended" in response.content.decode()
    assert client.get("/login/", HTTP_HOST=host_a).status_code == 200


def test_the_host_lookup_is_cached_after_the_first_request(client, tenant_a, host_a):
    client.get("/", HTTP_HOST=host_a)

    with CaptureQueriesContext(connection) as queries:
        client.get("/", HTTP_HOST=host_a)

    assert not [q for q in queries.captured_queries if "tenants_domain" in q["sql"]]


def test_the_public_host_serves_the_control_plane(client, db):
    response = client.get("/admin/login/", HTTP_HOST="localhost")

    assert response.status_code == 200
