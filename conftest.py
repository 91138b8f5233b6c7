"""Loaded before Django's settings: give this test run its own cache key space."""
import os
import uuid

os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{uuid.uuid4().hex[:8]}")
pytest_plugins = ["tests.api_fixtures"]
