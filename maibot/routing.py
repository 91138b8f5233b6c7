"""WebSocket URL routes, collected from the apps that serve sockets."""
from __future__ import annotations

from django.urls import re_path

from chat.consumers import AdapterConsumer
from chat.live import LiveConsumer

websocket_urlpatterns: list = [
    # Bot adapters (maim_message, legacy and API-Server mode).
    re_path(r"^/?ws/?$", AdapterConsumer.as_asgi()),
    # The dashboard's live view of one agent (session cookie).
    re_path(r"^/?ws/live/(?P<agent>[a-z0-9-]+)/?$", LiveConsumer.as_asgi()),
]
