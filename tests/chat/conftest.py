"""Fixtures for chat tests."""
from __future__ import annotations
