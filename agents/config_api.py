"""`/api/v2/config…` and `/api/v2/agents/{slug}/config…`: layered configuration."""
from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from agents import config
from agents.config_schema import SCHEMA
from agents.models import ConfigChange
from maibot.api.access import get_agent_or_404
from maibot.api.errors import ApiError, not_found
from maibot.api.views import TenantAPIView
from tenants.apikeys import KeyIdentity

PLATFORM_PARAM = OpenApiParameter("platform", str, description="Platform whose overrides apply, e.g. qq")


class ConfigChangeSerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="agent_slug")

    class Meta:
        model = ConfigChange
        fields = ["id", "layer", "agent", "platform", "key", "action", "old", "new", "actor", "request_id", "created"]


ValuesSerializer = inline_serializer(
    "ConfigValues", {"values": serializers.DictField(help_text="setting → value"), "platform": serializers.CharField(required=False)}
)
EffectiveSerializer = inline_serializer(
    "EffectiveConfig",
    {
        "agent": serializers.CharField(allow_null=True), "platform": serializers.CharField(allow_null=True),
        "values": serializers.DictField(), "sources": serializers.DictField(child=serializers.CharField()),
    },
)


def _values(request: Request) -> dict:
    values = request.data.get("values") if isinstance(request.data, dict) else None
    if not isinstance(values, dict) or not values:
        raise ApiError("VALIDATION_ERROR", "Give the values to set.", fields={"values": ['Give an object such as {"talk_frequency": 0.3}.']})
    return values


def _effective(agent, platform: str | None) -> dict:
    effective = config.effective_config(agent, platform)
    return {"agent": agent.slug if agent else None, "platform": platform, "values": effective.values, "sources": effective.sources}


class ConfigSchemaView(TenantAPIView):
    required_scopes = {"GET": "config_read"}

    @extend_schema(responses=inline_serializer("ConfigKeyList", {"items": serializers.ListField(child=serializers.DictField())}), summary="The declared settings: types, defaults, bounds, layers")
    def get(self, request: Request) -> Response:
        return Response({"items": [key.describe() for key in SCHEMA.values()]})


class TenantConfigView(TenantAPIView):
    required_scopes = {"GET": "config_read"}  # tenant-wide writes are for the dashboard's admins
    required_roles = {"GET": "viewer", "PUT": "admin", "PATCH": "admin"}

    @extend_schema(responses=EffectiveSerializer, summary="The tenant layer over the defaults")
    def get(self, request: Request) -> Response:
        return Response(_effective(None, None))

    @extend_schema(request=ValuesSerializer, responses=EffectiveSerializer, summary="Set values at the tenant layer")
    def put(self, request: Request) -> Response:
        config.set_config_values("tenant", _values(request), actor=self.actor())
        return Response(_effective(None, None))

    patch = put


class TenantConfigKeyView(TenantAPIView):
    required_roles = {"DELETE": "admin"}

    @extend_schema(responses=EffectiveSerializer, summary="Clear a tenant-layer value")
    def delete(self, request: Request, key: str) -> Response:
        config.clear_config_value("tenant", key, actor=self.actor())
        return Response(_effective(None, None))


class AgentConfigView(TenantAPIView):
    required_scopes = {"GET": "config_read"}

    @extend_schema(parameters=[PLATFORM_PARAM], responses=EffectiveSerializer, summary="Effective config of an agent (and platform), with each value's layer")
    def get(self, request: Request, slug: str) -> Response:
        agent = get_agent_or_404(request, slug)
        platform = request.query_params.get("platform") or None
        if platform is not None and not config.PLATFORM_NAME.fullmatch(platform):
            raise ApiError("VALIDATION_ERROR", "Invalid platform.", fields={"platform": ["Use 1-32 letters, digits, . _ -."]})
        return Response(_effective(agent, platform))


class AgentLayerView(TenantAPIView):
    required_scopes = {"PUT": "config_write", "PATCH": "config_write"}
    required_roles = {"PUT": "admin", "PATCH": "admin"}

    @extend_schema(request=ValuesSerializer, responses=EffectiveSerializer, summary="Set values at the agent or platform layer")
    def put(self, request: Request, slug: str, layer: str) -> Response:
        agent = get_agent_or_404(request, slug)
        if layer not in ("agent", "platform"):
            raise not_found("layer")
        values = _values(request)
        platform = request.data.get("platform") if layer == "platform" else None
        config.set_config_values(layer, values, agent=agent, platform=platform, actor=self.actor())
        return Response(_effective(agent, platform))

    patch = put


class AgentLayerKeyView(TenantAPIView):
    required_scopes = {"DELETE": "config_write"}
    required_roles = {"DELETE": "admin"}

    @extend_schema(parameters=[PLATFORM_PARAM], responses=EffectiveSerializer, summary="Clear a value at the agent or platform layer")
    def delete(self, request: Request, slug: str, layer: str, key: str) -> Response:
        agent = get_agent_or_404(request, slug)
        if layer not in ("agent", "platform"):
            raise not_found("layer")
        platform = request.query_params.get("platform") if layer == "platform" else None
        config.clear_config_value(layer, key, agent=agent, platform=platform, actor=self.actor())
        return Response(_effective(agent, platform))


HISTORY_FILTERS = {
    "agent": re.compile(r"^[-\w]{1,40}$", re.ASCII),
    "key": re.compile(r"^[\w.]{1,60}$", re.ASCII),
    "layer": re.compile(r"^(tenant|agent|platform)$"),
    "platform": config.PLATFORM_NAME,
}


def _filters(request: Request) -> dict[str, str]:
    """The history filters given, each checked before it reaches a query."""
    given = {name: request.query_params.get(name) for name in HISTORY_FILTERS if request.query_params.get(name)}
    problems = {name: ["Not a valid value for this filter."] for name, value in given.items() if not HISTORY_FILTERS[name].fullmatch(value)}
    if problems:
        raise ApiError("VALIDATION_ERROR", "Invalid filter.", fields=problems)
    return given


def _history_for(request: Request):
    filters = _filters(request)
    if isinstance(request.auth, KeyIdentity):
        filters["agent"] = request.auth.agent_slug  # a key sees only its own agent's history
    changes = ConfigChange.objects.all()
    if "agent" in filters:
        changes = changes.filter(agent_slug=filters.pop("agent"))
    return changes.filter(**filters)


class ConfigHistoryView(TenantAPIView):
    required_scopes = {"GET": "config_read"}

    @extend_schema(
        parameters=[OpenApiParameter(n, str) for n in ("agent", "key", "layer", "platform")],
        responses=ConfigChangeSerializer(many=True), summary="Config history: who changed what, when, old and new",
    )
    def get(self, request: Request) -> Response:
        return self.paginate(_history_for(request), ConfigChangeSerializer)


class ConfigRollbackView(TenantAPIView):
    required_scopes = {"POST": "config_write"}
    required_roles = {"POST": "admin"}

    @extend_schema(request=None, responses={201: ConfigChangeSerializer}, summary="Put back the value a history entry replaced")
    def post(self, request: Request, change_id: int) -> Response:
        change = _history_for(request).filter(pk=change_id).first()
        if change is None:
            raise not_found("history entry")
        if isinstance(request.auth, KeyIdentity) and change.layer == "tenant":
            raise not_found("history entry")
        return Response(ConfigChangeSerializer(config.rollback_config(change, actor=self.actor())).data, status=201)


class ConfigExportView(TenantAPIView):
    required_scopes = {"GET": "config_read"}

    @extend_schema(parameters=[OpenApiParameter("agent", str)], responses=inline_serializer("ConfigExport", {"tenant": serializers.DictField(), "agents": serializers.DictField()}), summary="Export config as JSON")
    def get(self, request: Request) -> Response:
        slug = request.auth.agent_slug if isinstance(request.auth, KeyIdentity) else _filters(request).get("agent")
        agent = get_agent_or_404(request, slug) if slug else None
        return Response(config.export_config(agent))


class ConfigImportView(TenantAPIView):
    required_roles = {"POST": "admin"}

    @extend_schema(request=inline_serializer("ConfigImport", {"tenant": serializers.DictField(required=False), "agents": serializers.DictField(required=False)}), responses=inline_serializer("ConfigImported", {"written": serializers.IntegerField()}), summary="Import config JSON (all or nothing)")
    def post(self, request: Request) -> Response:
        return Response({"written": config.import_config(request.data, actor=self.actor())})
