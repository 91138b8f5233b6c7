"""`/api/v2/memories…`: memory CRUD, batch, search, query, aggregate, conflicts, stats."""
from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from agents.models import Agent
from maibot.api.access import get_agent_or_404, visible_agents
from maibot.api.errors import ApiError, not_found
from maibot.api.views import TenantAPIView, parse_bool
from memory import aggregation, services
from memory.models import Conflict, Memory

READ_WRITE_SCOPES = {"GET": "memory_read", "POST": "memory_write", "PATCH": "memory_write", "DELETE": "memory_write"}
SEARCH_SCOPES = {"POST": "memory_read"}


class MemorySerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="agent.slug")

    class Meta:
        model = Memory
        fields = ["id", "agent", "level", "platform", "stream_id", "title", "content", "tags", "metadata", "source", "created", "updated", "expires"]


class MemoryWriteSerializer(serializers.Serializer):
    agent = serializers.CharField(required=False, help_text="Agent slug (implied by an API key)")
    level = serializers.ChoiceField(choices=Memory.Level.choices, required=False)
    platform = serializers.CharField(required=False, allow_blank=True)
    stream_id = serializers.CharField(required=False, allow_blank=True)
    title = serializers.CharField(required=False)
    content = serializers.CharField(required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    metadata = serializers.DictField(required=False)
    source = serializers.ChoiceField(choices=Memory.Source.choices, required=False)
    expires = serializers.DateTimeField(required=False, allow_null=True)


class HitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    content = serializers.CharField()
    level = serializers.CharField()
    platform = serializers.CharField()
    stream_id = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    score = serializers.FloatField()


class ConflictSerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="agent.slug")

    class Meta:
        model = Conflict
        fields = ["id", "agent", "platform", "stream_id", "title", "context", "following", "resolved", "resolution", "resolved_at", "created", "updated"]


def _visible(request: Request) -> QuerySet[Memory]:
    """Memories of the agents the caller may see (an API key: its own agent only)."""
    return Memory.objects.filter(agent__in=visible_agents(request)).select_related("agent")


def _agent_from_body(request: Request, data: dict) -> Agent:
    slug = data.pop("agent", None) or getattr(request.auth, "agent_slug", None)
    if not slug:
        raise ApiError("VALIDATION_ERROR", "Which agent?", fields={"agent": ["Give the agent's slug."]})
    return get_agent_or_404(request, slug)


def _body(request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise ApiError("VALIDATION_ERROR", "Send a JSON object.")
    return dict(request.data)


def _filters(params: dict) -> dict:
    tags = params.get("tags") or []
    if isinstance(tags, str):
        tags = [t for t in tags.split(",") if t]
    return {
        "level": params.get("level") or None, "platform": params.get("platform") or None,
        "stream_id": params.get("stream_id") or None, "tags": tags,
    }


class MemoryList(TenantAPIView):
    required_scopes = READ_WRITE_SCOPES

    @extend_schema(
        parameters=[OpenApiParameter(n, str) for n in ("agent", "level", "platform", "stream_id", "tags", "source", "q")]
        + [OpenApiParameter("include_expired", bool)],
        responses=MemorySerializer(many=True), summary="Query memories by filters (newest first)",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        memories = _visible(request)
        if params.get("agent"):
            memories = memories.filter(agent=get_agent_or_404(request, params["agent"]))
        memories = services.query_memories(
            memories, **_filters(params), source=params.get("source") or None, text=params.get("q") or None,
            include_expired=bool(parse_bool(request, "include_expired")),
        )
        return self.paginate(memories, MemorySerializer)

    @extend_schema(request=MemoryWriteSerializer, responses={201: MemorySerializer}, summary="Create a memory (embedded on write)")
    def post(self, request: Request) -> Response:
        data = _body(request)
        agent = _agent_from_body(request, data)
        memory = services.create_memory(agent, actor=self.actor(), **data)
        return Response(MemorySerializer(memory).data, status=201)


def _memory(request: Request, memory_id: int) -> Memory:
    memory = _visible(request).filter(pk=memory_id).first()
    if memory is None:
        raise not_found("memory")
    return memory


class MemoryDetail(TenantAPIView):
    required_scopes = READ_WRITE_SCOPES

    @extend_schema(responses=MemorySerializer, summary="Read a memory")
    def get(self, request: Request, memory_id: int) -> Response:
        return Response(MemorySerializer(_memory(request, memory_id)).data)

    @extend_schema(request=MemoryWriteSerializer, responses=MemorySerializer, summary="Change a memory")
    def patch(self, request: Request, memory_id: int) -> Response:
        data = _body(request)
        data.pop("agent", None)
        memory = services.update_memory(_memory(request, memory_id), data, actor=self.actor())
        return Response(MemorySerializer(memory).data)

    @extend_schema(responses={204: None}, summary="Delete a memory")
    def delete(self, request: Request, memory_id: int) -> Response:
        services.delete_memories(_visible(request), [_memory(request, memory_id).pk], actor=self.actor())
        return Response(status=204)


class MemoryBatch(TenantAPIView):
    required_scopes = {"POST": "memory_write"}

    @extend_schema(request=inline_serializer("MemoryBatch", {"agent": serializers.CharField(required=False), "items": MemoryWriteSerializer(many=True)}), responses={201: MemorySerializer(many=True)}, summary="Create many memories (all or nothing)")
    def post(self, request: Request) -> Response:
        data = _body(request)
        agent = _agent_from_body(request, data)
        items = data.get("items")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ApiError("VALIDATION_ERROR", "Give a list of memories.", fields={"items": ["Give a list of objects."]})
        memories = services.create_memories(agent, items, actor=self.actor())
        return Response({"items": MemorySerializer(memories, many=True).data}, status=201)


class MemoryBatchDelete(TenantAPIView):
    required_scopes = {"POST": "memory_write"}

    @extend_schema(request=inline_serializer("MemoryIds", {"ids": serializers.ListField(child=serializers.IntegerField())}), responses=inline_serializer("Deleted", {"deleted": serializers.IntegerField()}), summary="Delete many memories")
    def post(self, request: Request) -> Response:
        ids = _body(request).get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise ApiError("VALIDATION_ERROR", "Give memory ids.", fields={"ids": ["Give a list of integers."]})
        return Response({"deleted": services.delete_memories(_visible(request), ids, actor=self.actor())})


class MemorySearch(TenantAPIView):
    required_scopes = SEARCH_SCOPES
    required_roles = {"POST": "viewer"}

    @extend_schema(
        request=inline_serializer("MemorySearchRequest", {
            "query": serializers.CharField(), "k": serializers.IntegerField(required=False), "agent": serializers.CharField(required=False),
            "level": serializers.CharField(required=False), "platform": serializers.CharField(required=False),
            "stream_id": serializers.CharField(required=False), "tags": serializers.ListField(child=serializers.CharField(), required=False),
            "scoped": serializers.BooleanField(required=False, help_text="chat, then platform, then agent"),
        }),
        responses=inline_serializer("MemorySearchResult", {"items": HitSerializer(many=True)}),
        summary="Semantic search (cosine) with filters; scores are similarities",
    )
    def post(self, request: Request) -> Response:
        data = _body(request)
        query = data.get("query")
        if not isinstance(query, str) or not query.strip() or len(query) > 2000:
            raise ApiError("VALIDATION_ERROR", "Give a query.", fields={"query": ["Give 1-2000 characters."]})
        k = data.get("k", 5)
        if not isinstance(k, int) or not 1 <= k <= 50:
            raise ApiError("VALIDATION_ERROR", "Invalid k.", fields={"k": ["Give 1-50."]})
        agent = _agent_from_body(request, data) if (data.get("agent") or getattr(request.auth, "agent_slug", None)) else None
        if data.get("scoped"):
            if agent is None or not data.get("platform") or not data.get("stream_id"):
                raise ApiError("VALIDATION_ERROR", "A scoped search needs agent, platform and stream_id.", fields={"scoped": ["Give agent, platform and stream_id."]})
            hits = services.search_in_scope(agent, query, platform=data["platform"], stream_id=data["stream_id"], k=k)
        else:
            memories = _visible(request) if agent is None else Memory.objects.filter(agent=agent)
            hits = services.search(memories, query, agent=agent, k=k, **_filters(data))
        return Response({"items": [hit.as_dict() for hit in hits]})


class MemoryStats(TenantAPIView):
    required_scopes = {"GET": "memory_read"}

    @extend_schema(parameters=[OpenApiParameter("agent", str)], responses=inline_serializer("MemoryStats", {"total": serializers.IntegerField(), "by_level": serializers.DictField()}), summary="Memory counts per level and source")
    def get(self, request: Request) -> Response:
        memories = _visible(request)
        if request.query_params.get("agent"):
            memories = memories.filter(agent=get_agent_or_404(request, request.query_params["agent"]))
        stats = services.memory_stats(memories)
        conflicts = Conflict.objects.filter(agent__in=visible_agents(request))
        stats["conflicts"] = {"open": conflicts.filter(resolved=False).count(), "resolved": conflicts.filter(resolved=True).count()}
        return Response(stats)


class MemoryAggregate(TenantAPIView):
    required_scopes = {"POST": "memory_write"}

    @extend_schema(
        request=inline_serializer("MemoryAggregateRequest", {
            "agent": serializers.CharField(required=False), "ids": serializers.ListField(child=serializers.IntegerField(), required=False),
            "platform": serializers.CharField(required=False), "stream_id": serializers.CharField(required=False),
            "to_level": serializers.ChoiceField(choices=["platform", "agent"]), "title": serializers.CharField(required=False),
            "delete_sources": serializers.BooleanField(required=False),
        }),
        responses={201: MemorySerializer}, summary="Merge chat-level memories into one platform- or agent-level memory (utils model)",
    )
    def post(self, request: Request) -> Response:
        data = _body(request)
        agent = _agent_from_body(request, data)
        memory = aggregation.aggregate_memories(
            agent, ids=data.get("ids"), platform=data.get("platform"), stream_id=data.get("stream_id"),
            to_level=data.get("to_level", "platform"), title=data.get("title"),
            delete_sources=bool(data.get("delete_sources")), actor=self.actor(),
        )
        return Response(MemorySerializer(memory).data, status=201)


def _conflict(request: Request, conflict_id: int) -> Conflict:
    conflict = Conflict.objects.filter(agent__in=visible_agents(request), pk=conflict_id).select_related("agent").first()
    if conflict is None:
        raise not_found("conflict")
    return conflict


class ConflictList(TenantAPIView):
    required_scopes = READ_WRITE_SCOPES

    @extend_schema(parameters=[OpenApiParameter("agent", str), OpenApiParameter("resolved", bool)], responses=ConflictSerializer(many=True), summary="List open questions and contradictions")
    def get(self, request: Request) -> Response:
        conflicts = Conflict.objects.filter(agent__in=visible_agents(request)).select_related("agent")
        if request.query_params.get("agent"):
            conflicts = conflicts.filter(agent=get_agent_or_404(request, request.query_params["agent"]))
        resolved = parse_bool(request, "resolved")
        if resolved is not None:
            conflicts = conflicts.filter(resolved=resolved)
        return self.paginate(conflicts, ConflictSerializer)

    @extend_schema(request=inline_serializer("ConflictWrite", {"agent": serializers.CharField(required=False), "title": serializers.CharField(), "context": serializers.CharField(required=False)}), responses={201: ConflictSerializer}, summary="Track a question or contradiction")
    def post(self, request: Request) -> Response:
        data = _body(request)
        agent = _agent_from_body(request, data)
        return Response(ConflictSerializer(services.create_conflict(agent, actor=self.actor(), **data)).data, status=201)


class ConflictDetail(TenantAPIView):
    required_scopes = READ_WRITE_SCOPES

    @extend_schema(responses=ConflictSerializer, summary="Read a conflict")
    def get(self, request: Request, conflict_id: int) -> Response:
        return Response(ConflictSerializer(_conflict(request, conflict_id)).data)

    @extend_schema(request=inline_serializer("ConflictChange", {"title": serializers.CharField(required=False), "context": serializers.CharField(required=False), "following": serializers.BooleanField(required=False)}), responses=ConflictSerializer, summary="Change a conflict")
    def patch(self, request: Request, conflict_id: int) -> Response:
        data = _body(request)
        return Response(ConflictSerializer(services.update_conflict(_conflict(request, conflict_id), data, actor=self.actor())).data)

    @extend_schema(responses={204: None}, summary="Delete a conflict")
    def delete(self, request: Request, conflict_id: int) -> Response:
        services.delete_conflict(_conflict(request, conflict_id), actor=self.actor())
        return Response(status=204)


class ConflictResolve(TenantAPIView):
    required_scopes = {"POST": "memory_write"}

    @extend_schema(request=inline_serializer("ConflictResolution", {"resolution": serializers.CharField()}), responses=ConflictSerializer, summary="Resolve a conflict")
    def post(self, request: Request, conflict_id: int) -> Response:
        resolution = _body(request).get("resolution", "")
        conflict = services.resolve_conflict(_conflict(request, conflict_id), resolution=resolution, actor=self.actor())
        return Response(ConflictSerializer(conflict).data)


class StatsUsage(TenantAPIView):
    required_scopes = {"GET": "config_read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("by", str, enum=["day", "hour", "agent", "platform", "model"]),
            OpenApiParameter("days", int, description="How many days back (1-366, default 14)"),
            OpenApiParameter("agent", str),
        ],
        responses=inline_serializer("UsageSeries", {"by": serializers.CharField(), "rows": serializers.ListField(child=serializers.DictField())}),
        summary="Hourly roll-ups summed for charts: messages in/out, replies, LLM calls, tokens, cost, latency",
    )
    def get(self, request: Request) -> Response:
        from datetime import timedelta

        from django.utils import timezone

        from memory.stats import GROUPS, usage_series

        by = request.query_params.get("by", "day")
        days = request.query_params.get("days", "14")
        if by not in GROUPS:
            raise ApiError("VALIDATION_ERROR", "Unknown grouping.", fields={"by": [f"Choose one of: {', '.join(GROUPS)}."]})
        if not days.isdigit() or not 1 <= int(days) <= 366:
            raise ApiError("VALIDATION_ERROR", "Invalid period.", fields={"days": ["Give 1-366."]})
        agent_slug = getattr(request.auth, "agent_slug", None) or request.query_params.get("agent")
        if agent_slug:
            get_agent_or_404(request, agent_slug)
        now = timezone.now()
        rows = usage_series(since=now - timedelta(days=int(days)), until=now + timedelta(hours=1), by=by, agent_slug=agent_slug)
        return Response({"by": by, "rows": rows})
