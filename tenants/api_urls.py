from __future__ import annotations

from django.urls import path

from tenants import api

urlpatterns = [
    path("tenants", api.TenantList.as_view(), name="api-tenants"),
    path("tenants/<slug:slug>", api.TenantDetail.as_view(), name="api-tenant"),
    path("tenants/<slug:slug>/suspend", api.TenantSuspend.as_view(), name="api-tenant-suspend"),
    path("tenants/<slug:slug>/resume", api.TenantResume.as_view(), name="api-tenant-resume"),
    path("tenants/<slug:slug>/plan", api.TenantPlan.as_view(), name="api-tenant-plan"),
]
