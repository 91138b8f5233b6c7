"""URLs of the public host: sign-in and organisation picker, staff admin, the staff tenants
API, and the tenant API for callers whose API key names their tenant."""
from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from maibot.urls_dashboard import auth_patterns
from tenants import views

urlpatterns = [
    path("", views.home, name="home"),
    *auth_patterns,
    path("switch/<slug:slug>/", views.switch_tenant, name="switch-tenant"),
    path("admin/", admin.site.urls),
    path("api/v2/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v2/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v2/", include("tenants.api_urls")),
    path("api/v2/", include("agents.api_urls")),
    path("api/v2/", include("chat.usage_urls")),
    path("api/v2/", include("memory.api_urls")),
]
