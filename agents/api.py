"""`/api/v2/agents`, their API keys, templates, and the audit log."""
from __future__ import annotations

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from agents import services
from agents.models import AuditEntry
from agents.serializers import (
    AgentCloneSerializer,
    AgentCreateSerializer,
    AgentFromTemplateSerializer,
    AgentSerializer,
    AgentUpdateSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    AuditEntrySerializer,
    IssuedKeySerializer,
    TemplateSerializer,
)
from agents.templates import TEMPLATES
from maibot.api.access import get_agent_or_404, visible_agents
from maibot.api.errors import ApiError, not_found
from maibot.api.views import TenantAPIView, parse_bool
from tenants import apikeys
from tenants.models import ApiKey


def _valid(serializer_class: type, request: Request, partial: bool = False) -> dict:
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class AgentList(TenantAPIView):
    required_scopes = {"GET": "config_read"}  # creating agents is for the dashboard's admins
    required_roles = {"GET": "viewer", "POST": "admin"}

    @extend_schema(responses=AgentSerializer(many=True), summary="List agents")
    def get(self, request: Request) -> Response:
        agents = visible_agents(request)
        active = parse_bool(request, "is_active")
        if active is not None:
            agents = agents.filter(is_active=active)
        return self.paginate(agents.order_by("slug"), AgentSerializer)

    @extend_schema(request=AgentCreateSerializer, responses={201: AgentSerializer}, summary="Create an agent")
    def post(self, request: Request) -> Response:
        data = _valid(AgentCreateSerializer, request)
        agent = services.create_agent(request.api_tenant, actor=self.actor(), **data)
        return Response(AgentSerializer(agent).data, status=201)


class AgentDetail(TenantAPIView):
    required_scopes = {"GET": "config_read", "PATCH": "config_write", "PUT": "config_write"}
    required_roles = {"GET": "viewer", "PATCH": "admin", "PUT": "admin", "DELETE": "owner"}

    @extend_schema(responses=AgentSerializer, summary="Read an agent")
    def get(self, request: Request, slug: str) -> Response:
        return Response(AgentSerializer(get_agent_or_404(request, slug)).data)

    @extend_schema(request=AgentUpdateSerializer, responses=AgentSerializer, summary="Update an agent")
    def patch(self, request: Request, slug: str) -> Response:
        agent = get_agent_or_404(request, slug)
        changes = _valid(AgentUpdateSerializer, request, partial=True)
        return Response(AgentSerializer(services.update_agent(agent, changes, actor=self.actor())).data)

    put = patch

    @extend_schema(responses={204: None}, summary="Delete an agent and everything it owns")
    def delete(self, request: Request, slug: str) -> Response:
        agent = get_agent_or_404(request, slug)
        services.delete_agent(request.api_tenant, agent, actor=self.actor())
        return Response(status=204)


class AgentClone(TenantAPIView):
    required_roles = {"POST": "admin"}

    @extend_schema(request=AgentCloneSerializer, responses={201: AgentSerializer}, summary="Clone an agent")
    def post(self, request: Request, slug: str) -> Response:
        source = get_agent_or_404(request, slug)
        data = _valid(AgentCloneSerializer, request)
        clone = services.clone_agent(request.api_tenant, source, actor=self.actor(), **data)
        return Response(AgentSerializer(clone).data, status=201)


class TemplateList(TenantAPIView):
    required_scopes = {"GET": "config_read"}

    @extend_schema(responses=TemplateSerializer(many=True), summary="List agent templates")
    def get(self, request: Request) -> Response:
        return Response(TemplateSerializer(list(TEMPLATES.values()), many=True).data)


class AgentFromTemplate(TenantAPIView):
    required_roles = {"POST": "admin"}

    @extend_schema(request=AgentFromTemplateSerializer, responses={201: AgentSerializer}, summary="Create an agent from a template")
    def post(self, request: Request) -> Response:
        data = _valid(AgentFromTemplateSerializer, request)
        agent = services.create_agent_from_template(
            request.api_tenant, data["template"], slug=data["slug"], name=data.get("name"), actor=self.actor()
        )
        return Response(AgentSerializer(agent).data, status=201)


class KeyList(TenantAPIView):
    required_scopes = {"GET": "admin", "POST": "admin"}
    required_roles = {"GET": "admin", "POST": "admin"}

    @extend_schema(responses=ApiKeySerializer(many=True), summary="List an agent's API keys")
    def get(self, request: Request, slug: str) -> Response:
        agent = get_agent_or_404(request, slug)
        return self.paginate(apikeys.keys_of_agent(request.api_tenant, agent.slug), ApiKeySerializer)

    @extend_schema(
        request=ApiKeyCreateSerializer, responses={201: IssuedKeySerializer},
        summary="Create an API key (the plaintext `key` is returned only in this answer)",
    )
    def post(self, request: Request, slug: str) -> Response:
        agent = get_agent_or_404(request, slug)
        data = _valid(ApiKeyCreateSerializer, request)
        issued = services.issue_key(request.api_tenant, agent, actor=self.actor(), **data)
        body = IssuedKeySerializer(issued.key, context={"plaintext": issued.plaintext}).data
        response = Response(body, status=201)
        response.message = "Store this key now: it will not be shown again."
        return response


class KeyAction(TenantAPIView):
    required_scopes = {"POST": "admin", "DELETE": "admin"}
    required_roles = {"POST": "admin", "DELETE": "admin"}

    def _key(self, request: Request, slug: str, key_id: int) -> ApiKey:
        agent = get_agent_or_404(request, slug)
        try:
            return apikeys.get_key(request.api_tenant, agent.slug, key_id)
        except ApiKey.DoesNotExist:
            raise not_found("API key") from None


class KeyRevoke(KeyAction):
    @extend_schema(request=None, responses=ApiKeySerializer, summary="Revoke an API key now")
    def post(self, request: Request, slug: str, key_id: int) -> Response:
        key = services.revoke_key(self._key(request, slug, key_id), actor=self.actor())
        return Response(ApiKeySerializer(key).data)

    @extend_schema(responses=ApiKeySerializer, summary="Revoke an API key now")
    def delete(self, request: Request, slug: str, key_id: int) -> Response:
        return self.post(request, slug, key_id)


class KeyRotate(KeyAction):
    @extend_schema(
        request=None, responses={201: IssuedKeySerializer},
        summary="Rotate an API key: a new key now, the old one valid for the grace period",
    )
    def post(self, request: Request, slug: str, key_id: int) -> Response:
        issued = services.rotate_key(self._key(request, slug, key_id), actor=self.actor())
        response = Response(IssuedKeySerializer(issued.key, context={"plaintext": issued.plaintext}).data, status=201)
        response.message = "Store this key now: it will not be shown again."
        return response


class AuditList(TenantAPIView):
    required_scopes = {"GET": "admin"}
    required_roles = {"GET": "admin"}

    @extend_schema(responses=AuditEntrySerializer(many=True), summary="Read the audit log (filters: actor, action, object_type, object_id, since, until)")
    def get(self, request: Request) -> Response:
        entries = AuditEntry.objects.all()
        for name in ("actor", "action", "object_type", "object_id", "request_id"):
            value = request.query_params.get(name)
            if value:
                entries = entries.filter(**{name: value})
        for name, lookup in (("since", "created__gte"), ("until", "created__lt")):
            value = request.query_params.get(name)
            if value:
                moment = parse_datetime(value)
                if moment is None:
                    raise ApiError("VALIDATION_ERROR", "Invalid date.", fields={name: ["Use ISO 8601, e.g. 2026-01-31T00:00:00Z."]})
                entries = entries.filter(**{lookup: moment})
        return self.paginate(entries, AuditEntrySerializer)
