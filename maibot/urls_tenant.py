"""URLs of a tenant's host (`<slug>.<BASE_DOMAIN>`): dashboard and tenant API."""
from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from agents import views as agent_views
from chat import views as chat_views
from maibot.urls_dashboard import auth_patterns
from memory import views as memory_views
from tenants import views

urlpatterns = [
    path("", views.home, name="home"),
    *auth_patterns,
    path("login/hand-over/<str:token>/", views.hand_over, name="hand-over"),
    path("agents/", agent_views.agent_list, name="agents"),
    path("agents/new/", agent_views.agent_create, name="agent-create"),
    path("agents/<slug:slug>/", agent_views.agent_detail, name="agent"),
    path("agents/<slug:slug>/clone/", agent_views.agent_clone, name="agent-clone"),
    path("agents/<slug:slug>/toggle/", agent_views.agent_toggle, name="agent-toggle"),
    path("agents/<slug:slug>/delete/", agent_views.agent_delete, name="agent-delete"),
    path("agents/<slug:slug>/keys/", agent_views.agent_keys, name="agent-keys"),
    path("agents/<slug:slug>/keys/<int:key_id>/revoke/", agent_views.key_revoke, name="key-revoke"),
    path("agents/<slug:slug>/keys/<int:key_id>/rotate/", agent_views.key_rotate, name="key-rotate"),
    path("agents/<slug:slug>/config/", agent_views.agent_config, name="agent-config"),
    path("agents/<slug:slug>/config/<int:change_id>/rollback/", agent_views.config_rollback, name="config-rollback"),
    path("agents/<slug:slug>/live/", chat_views.live, name="agent-live"),
    path("agents/<slug:slug>/playground/", chat_views.playground, name="agent-playground"),
    path("chats/", chat_views.chat_list, name="chats"),
    path("chats/<str:stream_id>/", chat_views.chat_detail, name="chat"),
    path("memory/", memory_views.memory_list, name="memory"),
    path("memory/<int:memory_id>/edit/", memory_views.memory_edit, name="memory-edit"),
    path("memory/<int:memory_id>/delete/", memory_views.memory_delete, name="memory-delete"),
    path("memory/conflicts/<int:conflict_id>/resolve/", memory_views.conflict_resolve, name="conflict-resolve"),
    path("llm/", agent_views.llm, name="llm"),
    path("llm/providers/<int:provider_id>/test/", agent_views.provider_test, name="provider-test"),
    path("llm/providers/<int:provider_id>/delete/", agent_views.provider_delete, name="provider-delete"),
    path("usage/", chat_views.usage, name="usage"),
    path("members/", views.members, name="members"),
    path("members/<int:membership_id>/role/", views.member_role, name="member-role"),
    path("members/<int:membership_id>/remove/", views.member_remove, name="member-remove"),
    path("audit/", views.audit_log, name="audit"),
    path("api/v2/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v2/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v2/", include("agents.api_urls")),
    path("api/v2/", include("chat.api_urls")),
    path("api/v2/", include("chat.usage_urls")),
    path("api/v2/", include("memory.api_urls")),
]
