from __future__ import annotations

from django.urls import path

from chat import chat_api

urlpatterns = [
    path("chat", chat_api.ChatView.as_view(), name="api-chat"),
    path("chat/stream", chat_api.ChatStreamView.as_view(), name="api-chat-stream"),
    path("chat/history", chat_api.ChatHistoryView.as_view(), name="api-chat-history"),
]
