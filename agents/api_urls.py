from __future__ import annotations

from django.urls import path

from agents import api, config_api, llm_api

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
    path("agents/<slug:slug>/config", config_api.AgentConfigView.as_view(), name="api-agent-config"),
    path("agents/<slug:slug>/config/<str:layer>", config_api.AgentLayerView.as_view(), name="api-agent-config-layer"),
    path("agents/<slug:slug>/config/<str:layer>/<str:key>", config_api.AgentLayerKeyView.as_view(), name="api-agent-config-key"),
    path("config/schema", config_api.ConfigSchemaView.as_view(), name="api-config-schema"),
    path("config/tenant", config_api.TenantConfigView.as_view(), name="api-config-tenant"),
    path("config/tenant/<str:key>", config_api.TenantConfigKeyView.as_view(), name="api-config-tenant-key"),
    path("config/history", config_api.ConfigHistoryView.as_view(), name="api-config-history"),
    path("config/history/<int:change_id>/rollback", config_api.ConfigRollbackView.as_view(), name="api-config-rollback"),
    path("config/export", config_api.ConfigExportView.as_view(), name="api-config-export"),
    path("config/import", config_api.ConfigImportView.as_view(), name="api-config-import"),
    path("llm/providers", llm_api.ProviderList.as_view(), name="api-llm-providers"),
    path("llm/providers/<int:provider_id>", llm_api.ProviderDetail.as_view(), name="api-llm-provider"),
    path("llm/providers/<int:provider_id>/test", llm_api.ProviderTest.as_view(), name="api-llm-provider-test"),
    path("llm/models", llm_api.ModelList.as_view(), name="api-llm-models"),
    path("llm/models/<int:model_id>", llm_api.ModelDetail.as_view(), name="api-llm-model"),
    path("llm/tasks", llm_api.TaskList.as_view(), name="api-llm-tasks"),
    path("llm/tasks/<str:task>", llm_api.TaskDetail.as_view(), name="api-llm-task"),
    path("llm/import", llm_api.ModelConfigImport.as_view(), name="api-llm-import"),
]
