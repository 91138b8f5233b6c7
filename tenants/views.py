"""Dashboard pages of the organisation itself: overview, sign-in, members, audit log;
and on the public host, the sign-in that lists a user's organisations."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from agents.models import Agent, AuditEntry
from tenants import services
from tenants.dashboard import actor_of, member_required, tenant_of
from tenants.forms import InviteForm, RoleForm
from tenants.models import Membership

SWITCH_SALT = "tenant-switch"


def home(request: HttpRequest) -> HttpResponse:
    if tenant_of(request) is None:
        return public_home(request)
    return overview(request)


@member_required()
def overview(request: HttpRequest) -> HttpResponse:
    from chat import quotas
    from chat.models import ChatStream

    agents = list(Agent.objects.order_by("slug"))
    last_message = ChatStream.objects.aggregate(last=Max("last_message_at"))["last"]
    return render(request, "dashboard/overview.html", {
        "agents": agents, "streams": ChatStream.objects.count(), "last_message": last_message,
        "usage": quotas.usage_summary(request.tenant),
    })


class TenantLoginView(auth_views.LoginView):
    """Sign in on a tenant's host; only its members get in."""

    template_name = "dashboard/login.html"

    def form_valid(self, form):  # noqa: ANN001, ANN201
        tenant = tenant_of(self.request)
        user = form.get_user()
        if tenant is not None and not Membership.objects.filter(user=user, tenant=tenant).exists():
            form.add_error(None, "This account is not a member of this organisation.")
            return self.form_invalid(form)
        return super().form_valid(form)

    def get_success_url(self) -> str:
        if tenant_of(self.request) is None:
            return "/"
        return super().get_success_url()


def public_home(request: HttpRequest) -> HttpResponse:
    """The public host: sign in, then pick one of your organisations."""
    if not request.user.is_authenticated:
        return redirect("login")
    memberships = Membership.objects.filter(user=request.user).select_related("tenant").order_by("tenant__slug")
    return render(request, "dashboard/pick_tenant.html", {"memberships": memberships})


@login_required
def switch_tenant(request: HttpRequest, slug: str) -> HttpResponse:
    """Hand a signed-in user over to a tenant's host with a short-lived signed token."""
    membership = Membership.objects.filter(user=request.user, tenant__slug=slug).select_related("tenant").first()
    if membership is None:
        raise Http404("No such organisation.")
    token = signing.dumps({"user": request.user.pk, "tenant": membership.tenant.slug}, salt=SWITCH_SALT)
    port = request.get_port()
    port_part = "" if port in ("80", "443") else f":{port}"
    return redirect(f"{request.scheme}://{services.domain_for(slug)}{port_part}/login/hand-over/{token}/")


def hand_over(request: HttpRequest, token: str) -> HttpResponse:
    tenant = tenant_of(request)
    try:
        data = signing.loads(token, salt=SWITCH_SALT, max_age=settings.TENANT_SWITCH_TOKEN_SECONDS)
    except signing.BadSignature:
        messages.error(request, "That sign-in link has expired; sign in again.")
        return redirect("login")
    if tenant is None or data.get("tenant") != tenant.slug:
        raise Http404("No such page.")
    user = get_user_model().objects.filter(pk=data.get("user"), is_active=True).first()
    if user is None or not Membership.objects.filter(user=user, tenant=tenant).exists():
        raise Http404("No such page.")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("home")


@member_required()
def members(request: HttpRequest) -> HttpResponse:
    form = InviteForm()
    invited_password = None
    if request.method == "POST":
        if request.membership.role not in ("admin", "owner"):
            raise PermissionDenied("Inviting needs the admin role.")
        form = InviteForm(request.POST)
        if form.is_valid():
            role = form.cleaned_data["role"]
            if role == "owner" and request.membership.role != "owner":
                form.add_error("role", "Only an owner can make another owner.")
            else:
                membership, invited_password = services.add_member(request.tenant, form.cleaned_data["email"], role)
                _audit(request, "member.invite", membership.user.email, {"role": role})
                messages.success(request, f"{membership.user.email} is now a {role}.")
                if invited_password is None:
                    return redirect("members")
                form = InviteForm()
    rows = Membership.objects.filter(tenant=request.tenant).select_related("user").order_by("user__email")
    return render(request, "dashboard/members.html", {"rows": rows, "form": form, "role_form": RoleForm(), "invited_password": invited_password})


def _audit(request: HttpRequest, action: str, object_id: str, changes: dict | None = None) -> None:
    from agents import audit

    audit.record(actor_of(request), action, "member", object_id, changes)


@require_POST
@member_required("admin")
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=membership_id, tenant=request.tenant)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.change_role(membership, form.cleaned_data["role"], by=request.membership)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            _audit(request, "member.role", membership.user.email, {"role": membership.role})
            messages.success(request, f"{membership.user.email} is now a {membership.role}.")
    return redirect("members")


@require_POST
@member_required("admin")
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=membership_id, tenant=request.tenant)
    try:
        email = membership.user.email
        services.remove_member(membership, by=request.membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        _audit(request, "member.remove", email)
        messages.success(request, f"{email} no longer has access.")
    return redirect("members")


@member_required("admin")
def audit_log(request: HttpRequest) -> HttpResponse:
    entries = AuditEntry.objects.all()
    action = request.GET.get("action", "").strip()
    if action:
        entries = entries.filter(action__startswith=action)
    page = Paginator(entries, settings.DASHBOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "dashboard/audit.html", {"page": page, "action": action})

