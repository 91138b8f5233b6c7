from __future__ import annotations

from django.urls import path

from agents import api

urlpatterns = [
    path("agents", api.AgentList.as_view(), name="api-agents"),
    path("agents/from-template", api.AgentFromTemplate.as_view(), name="api-agent-from-template"),
    path("agents/<slug:slug>", api.AgentDetail.as_view(), name="api-agent"),
    path("agents/<slug:slug>/clone", api.AgentClone.as_view(), name="api-agent-clone"),
    path("agents/<slug:slug>/keys", api.KeyList.as_view(), name="api-agent-keys"),
    path("agents/<slug:slug>/keys/<int:key_id>/revoke", api.KeyRevoke.as_view(), name="api-agent-key-revoke"),
    path("agents/<slug:slug>/keys/<int:key_id>/rotate", api.KeyRotate.as_view(), name="api-agent-key-rotate"),
    path("templates", api.TemplateList.as_view(), name="api-templates"),
    path("audit", api.AuditList.as_view(), name="api-audit"),
]
