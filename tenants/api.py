"""`/api/v2/tenants` on the public host: staff manage organisations."""
from __future__ import annotations

from django_tenants.utils import tenant_context
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents import audit
from maibot.api.errors import ApiError, not_found
from maibot.api.pagination import EnvelopePagination
from tenants import services
from tenants.models import Plan, Tenant
from tenants.serializers import DeleteConfirmSerializer, PlanChangeSerializer, TenantCreateSerializer, TenantSerializer


class StaffAPIView(APIView):
    authentication_classes = [SessionAuthentication, BasicAuthentication]
    permission_classes = [IsAdminUser]

    def audit(self, tenant: Tenant, action: str, changes: dict | None = None) -> None:
        """Staff actions on a tenant show up in that tenant's own audit log."""
        actor = audit.Actor(f"staff:{self.request.user.get_username()}", getattr(self.request, "request_id", ""))
        with tenant_context(tenant):
            audit.record(actor, action, "tenant", tenant.slug, changes)

    def tenant(self, slug: str) -> Tenant:
        tenant = Tenant.objects.select_related("plan").filter(slug=slug).first()
        if tenant is None:
            raise not_found("tenant")
        return tenant


class TenantList(StaffAPIView):
    @extend_schema(responses=TenantSerializer(many=True), summary="List tenants (staff)")
    def get(self, request: Request) -> Response:
        tenants = Tenant.objects.exclude(schema_name="public").select_related("plan").order_by("slug")
        status = request.query_params.get("status")
        if status:
            tenants = tenants.filter(status=status)
        paginator = EnvelopePagination()
        page = paginator.paginate_queryset(tenants, request, view=self)
        return paginator.get_paginated_response(TenantSerializer(page, many=True).data)

    @extend_schema(request=TenantCreateSerializer, responses={201: TenantSerializer}, summary="Create a tenant (staff)")
    def post(self, request: Request) -> Response:
        serializer = TenantCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        plan = None
        if data.get("plan"):
            plan = Plan.objects.filter(name=data["plan"]).first()
            if plan is None:
                raise ApiError("VALIDATION_ERROR", "Unknown plan.", fields={"plan": [f"No plan {data['plan']!r}."]})
        provisioned = services.create_tenant(
            slug=data["slug"], name=data["name"], owner_email=data.get("owner_email"), plan=plan
        )
        body = TenantSerializer(provisioned.tenant).data
        if provisioned.owner_password:
            body["owner_password"] = provisioned.owner_password
        return Response(body, status=201)


class TenantDetail(StaffAPIView):
    @extend_schema(responses=TenantSerializer, summary="Read a tenant (staff)")
    def get(self, request: Request, slug: str) -> Response:
        return Response(TenantSerializer(self.tenant(slug)).data)

    @extend_schema(request=DeleteConfirmSerializer, responses={204: None}, summary="Hard-delete a tenant and its schema (staff)")
    def delete(self, request: Request, slug: str) -> Response:
        tenant = self.tenant(slug)
        serializer = DeleteConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data["confirm"] != tenant.slug:
            raise ApiError("VALIDATION_ERROR", "Confirmation does not match.", fields={"confirm": ["Repeat the tenant's slug to confirm."]})
        services.delete_tenant(tenant.slug)
        return Response(status=204)


class TenantSuspend(StaffAPIView):
    @extend_schema(request=None, responses=TenantSerializer, summary="Suspend a tenant (staff)")
    def post(self, request: Request, slug: str) -> Response:
        tenant = services.suspend_tenant(self.tenant(slug).slug)
        self.audit(tenant, "tenant.suspend")
        return Response(TenantSerializer(tenant).data)


class TenantResume(StaffAPIView):
    @extend_schema(request=None, responses=TenantSerializer, summary="Resume a tenant (staff)")
    def post(self, request: Request, slug: str) -> Response:
        tenant = services.resume_tenant(self.tenant(slug).slug)
        self.audit(tenant, "tenant.resume")
        return Response(TenantSerializer(tenant).data)


class TenantPlan(StaffAPIView):
    @extend_schema(request=PlanChangeSerializer, responses=TenantSerializer, summary="Change a tenant's plan (staff)")
    def post(self, request: Request, slug: str) -> Response:
        serializer = PlanChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tenant = services.change_plan(self.tenant(slug).slug, serializer.validated_data["plan"])
        self.audit(tenant, "tenant.plan", {"plan": tenant.plan.name})
        return Response(TenantSerializer(tenant).data)
