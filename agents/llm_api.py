"""`/api/v2/llm/…`: providers (secrets write-only), models, task lists, toml import."""
from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from agents import llm_catalog, model_config_import
from agents.models import LLMModel, LLMProvider, TaskModelList
from maibot.api.errors import ApiError, not_found
from maibot.api.views import TenantAPIView


class ProviderSerializer(serializers.ModelSerializer):
    has_api_key = serializers.BooleanField(read_only=True)

    class Meta:
        model = LLMProvider
        fields = ["id", "name", "base_url", "timeout_seconds", "max_retries", "has_api_key", "created", "updated"]


class ProviderWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60, required=False)
    base_url = serializers.CharField(max_length=300, required=False)
    api_key = serializers.CharField(max_length=500, required=False, allow_blank=True, write_only=True)
    timeout_seconds = serializers.FloatField(required=False)
    max_retries = serializers.IntegerField(required=False)


class ModelSerializer(serializers.ModelSerializer):
    provider = serializers.CharField(source="provider.name")

    class Meta:
        model = LLMModel
        fields = ["id", "name", "provider", "identifier", "price_in", "price_out", "created"]


class ModelWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    provider = serializers.CharField(max_length=60, required=False)
    identifier = serializers.CharField(max_length=200, required=False)
    price_in = serializers.DecimalField(max_digits=12, decimal_places=6, required=False)
    price_out = serializers.DecimalField(max_digits=12, decimal_places=6, required=False)


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskModelList
        fields = ["task", "model_names", "temperature", "max_tokens", "updated"]


class TaskWriteSerializer(serializers.Serializer):
    model_names = serializers.ListField(child=serializers.CharField(max_length=100), max_length=10)
    temperature = serializers.FloatField(required=False, allow_null=True)
    max_tokens = serializers.IntegerField(required=False, allow_null=True)


def _data(serializer_class: type, request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class LLMView(TenantAPIView):
    """Providers and models are tenant-wide: keys may read them, only admins change them."""

    required_scopes = {"GET": "config_read"}
    required_roles = {"GET": "viewer", "POST": "admin", "PATCH": "admin", "PUT": "admin", "DELETE": "admin"}


class ProviderList(LLMView):
    @extend_schema(responses=ProviderSerializer(many=True), summary="List LLM providers (API keys are never returned)")
    def get(self, request: Request) -> Response:
        return self.paginate(LLMProvider.objects.all(), ProviderSerializer)

    @extend_schema(request=ProviderWriteSerializer, responses={201: ProviderSerializer}, summary="Add an OpenAI-compatible provider")
    def post(self, request: Request) -> Response:
        provider = llm_catalog.create_provider(actor=self.actor(), **_data(ProviderWriteSerializer, request))
        return Response(ProviderSerializer(provider).data, status=201)


def _provider(provider_id: int) -> LLMProvider:
    provider = LLMProvider.objects.filter(pk=provider_id).first()
    if provider is None:
        raise not_found("provider")
    return provider


class ProviderDetail(LLMView):
    @extend_schema(responses=ProviderSerializer, summary="Read a provider")
    def get(self, request: Request, provider_id: int) -> Response:
        return Response(ProviderSerializer(_provider(provider_id)).data)

    @extend_schema(request=ProviderWriteSerializer, responses=ProviderSerializer, summary="Change a provider (send api_key to replace the secret)")
    def patch(self, request: Request, provider_id: int) -> Response:
        provider = llm_catalog.update_provider(_provider(provider_id), _data(ProviderWriteSerializer, request), actor=self.actor())
        return Response(ProviderSerializer(provider).data)

    @extend_schema(responses={204: None}, summary="Delete a provider and its models")
    def delete(self, request: Request, provider_id: int) -> Response:
        llm_catalog.delete_provider(_provider(provider_id), actor=self.actor())
        return Response(status=204)


class ProviderTest(LLMView):
    required_roles = {"POST": "admin"}

    @extend_schema(request=None, responses=inline_serializer("ConnectionCheck", {"ok": serializers.BooleanField(), "status": serializers.IntegerField(allow_null=True), "latency_ms": serializers.IntegerField(), "models": serializers.ListField(child=serializers.CharField()), "error": serializers.CharField(), "method": serializers.CharField()}), summary="Test the connection: list the provider's models with its key (or try a 1-token completion)")
    def post(self, request: Request, provider_id: int) -> Response:
        check = llm_catalog.check_provider_connection(_provider(provider_id))
        return Response(asdict(check))


class ModelList(LLMView):
    @extend_schema(responses=ModelSerializer(many=True), summary="List models with their prices per million tokens")
    def get(self, request: Request) -> Response:
        return self.paginate(LLMModel.objects.select_related("provider"), ModelSerializer)

    @extend_schema(request=ModelWriteSerializer, responses={201: ModelSerializer}, summary="Add a model")
    def post(self, request: Request) -> Response:
        model = llm_catalog.create_model(actor=self.actor(), **_data(ModelWriteSerializer, request))
        return Response(ModelSerializer(model).data, status=201)


def _model(model_id: int) -> LLMModel:
    model = LLMModel.objects.select_related("provider").filter(pk=model_id).first()
    if model is None:
        raise not_found("model")
    return model


class ModelDetail(LLMView):
    @extend_schema(responses=ModelSerializer, summary="Read a model")
    def get(self, request: Request, model_id: int) -> Response:
        return Response(ModelSerializer(_model(model_id)).data)

    @extend_schema(request=ModelWriteSerializer, responses=ModelSerializer, summary="Change a model")
    def patch(self, request: Request, model_id: int) -> Response:
        model = llm_catalog.update_model(_model(model_id), _data(ModelWriteSerializer, request), actor=self.actor())
        return Response(ModelSerializer(model).data)

    @extend_schema(responses={204: None}, summary="Delete a model")
    def delete(self, request: Request, model_id: int) -> Response:
        llm_catalog.delete_model(_model(model_id), actor=self.actor())
        return Response(status=204)


class TaskList(LLMView):
    @extend_schema(responses=TaskSerializer(many=True), summary="Model lists per task (replyer, planner, utils, embedding, vlm)")
    def get(self, request: Request) -> Response:
        return Response({"items": TaskSerializer(TaskModelList.objects.all(), many=True).data})


class TaskDetail(LLMView):
    @extend_schema(request=TaskWriteSerializer, responses=TaskSerializer, summary="Set a task's models in fallback order")
    def put(self, request: Request, task: str) -> Response:
        data = _data(TaskWriteSerializer, request)
        task_list = llm_catalog.set_task_models(task, data["model_names"], actor=self.actor(), temperature=data.get("temperature"), max_tokens=data.get("max_tokens"))
        return Response(TaskSerializer(task_list).data)


class ModelConfigImport(LLMView):
    @extend_schema(request=inline_serializer("ModelConfigToml", {"toml": serializers.CharField()}), responses=inline_serializer("ModelConfigImported", {"providers": serializers.ListField(child=serializers.CharField()), "models": serializers.ListField(child=serializers.CharField()), "tasks": serializers.ListField(child=serializers.CharField()), "skipped": serializers.ListField(child=serializers.CharField())}), summary="Import a MaiBot model_config.toml")
    def post(self, request: Request) -> Response:
        text = request.data.get("toml") if isinstance(request.data, dict) else None
        if not isinstance(text, str):
            raise ApiError("VALIDATION_ERROR", "Give the file's text.", fields={"toml": ["Send the model_config.toml content as a string."]})
        return Response(asdict(model_config_import.import_model_config_toml(text, actor=self.actor())))
