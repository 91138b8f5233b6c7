"""URLs of a tenant's host (`<slug>.<BASE_DOMAIN>`): dashboard and tenant API."""
from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from tenants import views

urlpatterns = [
    path("", views.home, name="home"),
    path("api/v2/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v2/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v2/", include("agents.api_urls")),
    path("api/v2/", include("chat.usage_urls")),
    path("api/v2/", include("memory.api_urls")),
]
