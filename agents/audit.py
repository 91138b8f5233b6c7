"""The tenant's audit log: every change made through the API or dashboard writes a row."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from agents.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who made a change: `user:<email>`, `key:<key prefix>` or `system`."""

    name: str
    request_id: str = ""


SYSTEM = Actor("system")


def record(actor: Actor, action: str, object_type: str, object_id: object, changes: dict[str, Any] | None = None) -> AuditEntry:
    """Write one audit row. Must run inside the tenant's schema."""
    # Round-trip through the JSON encoder so dates and decimals are stored as text.
    safe_changes = json.loads(json.dumps(changes or {}, cls=DjangoJSONEncoder))
    return AuditEntry.objects.create(
        actor=actor.name[:200],
        action=action[:60],
        object_type=object_type[:60],
        object_id=str(object_id)[:200],
        changes=safe_changes,
        request_id=actor.request_id[:64],
    )
