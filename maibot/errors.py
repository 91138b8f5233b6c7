"""Domain errors any service may raise; the API and the dashboard turn them into answers."""
from __future__ import annotations


class LimitReached(Exception):
    """A plan limit forbids this (API: QUOTA_EXCEEDED)."""


class Conflict(Exception):
    """The change clashes with existing state, e.g. a slug already taken (API: CONFLICT)."""
