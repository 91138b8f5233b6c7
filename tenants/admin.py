from __future__ import annotations

from django.contrib import admin

from tenants.models import Domain, Membership, Plan, Tenant


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "display_name", "max_agents", "daily_tokens", "monthly_cost", "daily_requests", "max_memories")


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "status", "plan", "created")
    list_filter = ("status", "plan")
    search_fields = ("slug", "name")
    readonly_fields = ("schema_name", "created")
    inlines = [DomainInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "role", "created")
    list_filter = ("role",)
    search_fields = ("user__username", "tenant__slug")
