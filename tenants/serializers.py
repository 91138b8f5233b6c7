from __future__ import annotations

from rest_framework import serializers

from tenants.models import Tenant


class TenantSerializer(serializers.ModelSerializer):
    plan = serializers.CharField(source="plan.name", allow_null=True, default=None)
    schema = serializers.CharField(source="schema_name")

    class Meta:
        model = Tenant
        fields = ["slug", "name", "status", "plan", "schema", "created"]


class TenantCreateSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=200)
    owner_email = serializers.EmailField(required=False)
    plan = serializers.CharField(required=False)


class PlanChangeSerializer(serializers.Serializer):
    plan = serializers.CharField()


class DeleteConfirmSerializer(serializers.Serializer):
    confirm = serializers.CharField(help_text="The tenant's slug, repeated to confirm the hard delete.")
