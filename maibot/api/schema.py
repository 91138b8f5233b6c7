"""How our authentication shows up in the OpenAPI schema."""
from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "maibot.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "mmc_{tenant}_{agent}_{random}_v{version}",
            "description": "An agent API key; `X-API-Key: <key>` is accepted too.",
        }


class TenantSessionScheme(OpenApiAuthenticationExtension):
    target_class = "maibot.api.authentication.TenantSessionAuthentication"
    name = "dashboardSession"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid", "description": "The dashboard's session (tenant host, CSRF token required for writes)."}
