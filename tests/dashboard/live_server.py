"""The whole ASGI application (HTTP and WebSockets) under uvicorn, for tests that need a real server."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chat.gateway_fixtures import ServerThread


@pytest.fixture(scope="session")
def web_server() -> Iterator[ServerThread]:
    from maibot.asgi import application

    server = ServerThread(application).start()
    yield server
    server.stop()
