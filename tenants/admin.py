"""The staff admin: organisations with their status, plan, agents and usage; plans,
domains, users and memberships. Staff see metadata and usage, never chat content."""
from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django_tenants.utils import tenant_context

from tenants import services
from tenants.models import ApiKey, Domain, Membership, Plan, Tenant

admin.site.site_header = "MaiBot Cloud staff"
admin.site.site_title = "MaiBot Cloud staff"
admin.site.index_title = "Organisations, plans and people"


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "display_name", "max_agents", "daily_tokens", "monthly_cost", "daily_requests", "max_memories")


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


def _confirm(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Tenant], *, action: str,
             verb: str, warning: str, run) -> HttpResponse | None:  # noqa: ANN001
    """Ask first; act only when the confirmation form comes back."""
    if request.POST.get("confirmed") == "yes":
        for tenant in queryset:
            run(tenant.slug)
        modeladmin.message_user(request, f"{verb.capitalize()}: {', '.join(t.slug for t in queryset)}.", messages.SUCCESS)
        return None
    return TemplateResponse(request, "admin/tenants/confirm_action.html", {
        **modeladmin.admin_site.each_context(request), "title": f"{verb.capitalize()} organisations?",
        "tenants": queryset, "action": action, "verb": verb, "warning": warning,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME, "opts": modeladmin.model._meta,
    })


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "status", "plan", "agent_count", "tokens_today", "requests_today", "cost_this_month", "created")
    list_filter = ("status", "plan")
    search_fields = ("slug", "name")
    readonly_fields = ("schema_name", "created")
    inlines = [DomainInline, MembershipInline]
    actions = ["suspend", "resume", "delete_with_schema"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return super().get_queryset(request).exclude(schema_name="public").select_related("plan")

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a bulk delete would leave the schemas behind
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return False  # deleting goes through the confirmed action, which drops the schema

    @admin.display(description="agents")
    def agent_count(self, tenant: Tenant) -> int:
        from agents.models import Agent

        with tenant_context(tenant):
            return Agent.objects.count()

    def _usage(self, tenant: Tenant) -> dict:
        # One summary per row serves all three usage columns.
        if not hasattr(tenant, "_usage_summary"):
            from chat import quotas

            tenant._usage_summary = quotas.usage_summary(tenant)
        return tenant._usage_summary

    @admin.display(description="tokens today")
    def tokens_today(self, tenant: Tenant) -> str:
        summary = self._usage(tenant)
        return f"{summary['tokens_today']} ({summary['levels']['daily_tokens']})"

    @admin.display(description="requests today")
    def requests_today(self, tenant: Tenant) -> str:
        summary = self._usage(tenant)
        return f"{summary['requests_today']} ({summary['levels']['daily_requests']})"

    @admin.display(description="cost this month")
    def cost_this_month(self, tenant: Tenant) -> str:
        summary = self._usage(tenant)
        return f"{summary['cost_month']} ({summary['levels']['monthly_cost']})"

    @admin.action(description="Suspend selected organisations")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> HttpResponse | None:
        return _confirm(self, request, queryset, action="suspend", verb="suspend",
                        warning="Their hosts answer a suspended page and adapters and API keys are refused until resumed.",
                        run=services.suspend_tenant)

    @admin.action(description="Resume selected organisations")
    def resume(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> HttpResponse | None:
        return _confirm(self, request, queryset, action="resume", verb="resume", warning="They become reachable again.",
                        run=services.resume_tenant)

    @admin.action(description="Delete selected organisations and all their data")
    def delete_with_schema(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> HttpResponse | None:
        return _confirm(self, request, queryset, action="delete_with_schema", verb="delete",
                        warning="This drops each organisation's schema: agents, chats, memories, keys. It cannot be undone.",
                        run=services.delete_tenant)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "role", "created")
    list_filter = ("role", "tenant")
    search_fields = ("user__email", "tenant__slug")
    autocomplete_fields = ("user",)


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Metadata only: digests are not shown and keys cannot be created here."""

    list_display = ("prefix", "tenant", "agent_slug", "name", "created", "last_used", "revoked_at")
    list_filter = ("tenant",)
    fields = ("tenant", "agent_slug", "name", "prefix", "scopes", "created", "expires", "last_used", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
