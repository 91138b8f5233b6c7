"""The one way an endpoint reaches a tenant's agents, and who to name in the audit log."""
from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.request import Request

from agents.audit import Actor
from agents.models import Agent
from maibot.api.errors import not_found
from tenants.apikeys import KeyIdentity


def visible_agents(request: Request) -> QuerySet[Agent]:
    """The caller's tenant's agents; an API key sees only its own agent."""
    agents = Agent.objects.all()
    if isinstance(request.auth, KeyIdentity):
        agents = agents.filter(slug=request.auth.agent_slug)
    return agents


def get_agent_or_404(request: Request, slug: str) -> Agent:
    agent = visible_agents(request).filter(slug=slug).first()
    if agent is None:
        raise not_found("agent")
    return agent


def actor_of(request: Request) -> Actor:
    request_id = getattr(request, "request_id", "") or ""
    if isinstance(request.auth, KeyIdentity):
        return Actor(f"key:{request.auth.prefix}", request_id)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Actor(f"user:{user.get_username()}", request_id)
    return Actor("anonymous", request_id)
