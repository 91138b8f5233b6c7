"""Placeholder for the reply pipeline (heartflow → planner → replyer → sending).

The pipeline lives on its own branch; at merge its `chat/pipeline.py` replaces this file
whole. Until then the gateway stores messages and hands them here, and nothing replies.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenants.models import Tenant


async def handle_inbound(tenant: Tenant, agent_slug: str, platform: str, stream_id: str, message_pk: int) -> None:
    """No reply yet: the pipeline branch provides the real one."""
    return None
