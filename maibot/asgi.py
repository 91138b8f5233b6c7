"""ASGI entry point: HTTP to Django, WebSockets to the Channels routing of each app."""
from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maibot.settings")

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

django_application = get_asgi_application()
# Static files (dashboard and admin assets) are served by WhiteNoise's middleware.

from maibot.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        # Sessions let the dashboard's live view know its user; adapters use API keys.
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)
