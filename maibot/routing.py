"""WebSocket URL routes, collected from the apps that serve sockets."""
from __future__ import annotations

from django.urls import re_path

from chat.consumers import AdapterConsumer

websocket_urlpatterns: list = [
    # Bot adapters (maim_message, legacy and API-Server mode).
    re_path(r"^/?ws/?$", AdapterConsumer.as_asgi()),
]
