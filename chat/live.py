"""The dashboard's live view: a session-authenticated WebSocket per agent.

It joins the agent's live group and forwards the pipeline's events (message in, plan,
message out) as JSON. Only members of the host's tenant get in; anyone else is closed
with 4404, as if the agent did not exist.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django_tenants.utils import get_tenant_domain_model, schema_context, tenant_context

from chat.delivery import live_group

logger = logging.getLogger(__name__)
NOT_FOUND = 4404


def _host(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return value.decode("latin-1").split(":")[0].lower()
    return ""


@database_sync_to_async
def _resolve(host: str, user: Any, agent_slug: str) -> str | None:
    """The tenant schema when `user` is a member there and the agent exists, else None."""
    from agents.models import Agent
    from tenants.models import Membership

    if not getattr(user, "is_authenticated", False):
        return None
    with schema_context("public"):
        domain = get_tenant_domain_model().objects.select_related("tenant").filter(domain=host).first()
        if domain is None or not domain.tenant.is_active:
            return None
        tenant = domain.tenant
        if not Membership.objects.filter(user=user, tenant=tenant).exists():
            return None
    with tenant_context(tenant):
        if not Agent.objects.filter(slug=agent_slug).exists():
            return None
    return tenant.schema_name


class LiveConsumer(AsyncWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        agent_slug = self.scope["url_route"]["kwargs"]["agent"]
        schema = await _resolve(_host(self.scope), self.scope.get("user"), agent_slug)
        await self.accept()
        if schema is None:
            await self.close(code=NOT_FOUND)
            return
        self.group = live_group(schema, agent_slug)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send(json.dumps({"kind": "hello", "agent": agent_slug}))

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return None  # the live view only listens

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.send(json.dumps(message["event"], default=str))
