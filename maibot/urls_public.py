"""URLs of the public host (the control plane: staff admin, tenant management API)."""
from __future__ import annotations

from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v2/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v2/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]
