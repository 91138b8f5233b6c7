"""URLs of the public host: staff admin, the staff tenants API, and the tenant API for
callers whose API key names their tenant."""
from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v2/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v2/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v2/", include("tenants.api_urls")),
    path("api/v2/", include("agents.api_urls")),
    path("api/v2/", include("chat.usage_urls")),
    path("api/v2/", include("memory.api_urls")),
]
