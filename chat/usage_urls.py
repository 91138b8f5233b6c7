from __future__ import annotations

from django.urls import path

from chat import usage_api

urlpatterns = [
    path("usage", usage_api.UsageSummaryView.as_view(), name="api-usage"),
    path("usage/breakdown", usage_api.UsageBreakdownView.as_view(), name="api-usage-breakdown"),
]
