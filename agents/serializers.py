"""Shapes of agents, keys and audit rows in the API (reading); writes go through services."""
from __future__ import annotations

from rest_framework import serializers

from agents.models import Agent, AuditEntry
from tenants.apikeys import SCOPES
from tenants.models import ApiKey


class AgentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Agent
        fields = ["slug", "name", "persona", "reply_style", "platform_accounts", "is_active", "created", "updated"]
        read_only_fields = ["created", "updated"]


class AgentCreateSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=100)
    persona = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    reply_style = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    platform_accounts = serializers.DictField(child=serializers.CharField(max_length=64), required=False)
    is_active = serializers.BooleanField(required=False)


class AgentUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    persona = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    reply_style = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    platform_accounts = serializers.DictField(child=serializers.CharField(max_length=64), required=False)
    is_active = serializers.BooleanField(required=False)


class AgentCloneSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=100, required=False)


class AgentFromTemplateSerializer(serializers.Serializer):
    template = serializers.CharField(max_length=60)
    slug = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=100, required=False)


class TemplateSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    persona = serializers.CharField()
    reply_style = serializers.CharField()


class ApiKeySerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="agent_slug")
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "agent", "name", "prefix", "scopes", "created", "created_by", "expires", "last_used", "revoked", "revoked_at", "replaced_by"]

    def get_revoked(self, key: ApiKey) -> bool:
        return key.revoked_at is not None


class IssuedKeySerializer(ApiKeySerializer):
    key = serializers.SerializerMethodField()

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]

    def get_key(self, key: ApiKey) -> str:
        return self.context["plaintext"]


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPES), min_length=1)
    expires = serializers.DateTimeField(required=False, allow_null=True)


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = ["id", "actor", "action", "object_type", "object_id", "changes", "request_id", "created"]
