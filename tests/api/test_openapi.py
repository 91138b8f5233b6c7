from __future__ import annotations

from django.core.management import call_command
from django.test import Client


def test_the_openapi_schema_validates_and_documents_the_endpoints(tmp_path):
    out = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--urlconf", "maibot.urls_public", "--file", str(out))

    text = out.read_text()
    for path in ("/api/v2/agents", "/api/v2/agents/{slug}/keys", "/api/v2/audit", "/api/v2/tenants"):
        assert f"  {path}:" in text


def test_docs_are_served_on_a_tenant_host(host_a):
    assert Client(HTTP_HOST=host_a).get("/api/v2/docs/").status_code == 200
    assert Client(HTTP_HOST=host_a).get("/api/v2/schema/").status_code == 200
