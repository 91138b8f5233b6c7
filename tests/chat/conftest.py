"""Fixtures for chat tests."""
from __future__ import annotations

from tests.chat.gateway_fixtures import gateway, make_adapter  # noqa: F401 - fixtures
