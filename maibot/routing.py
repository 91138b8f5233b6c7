"""WebSocket URL routes, collected from the apps that serve sockets."""
from __future__ import annotations

websocket_urlpatterns: list = []
