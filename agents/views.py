"""Dashboard pages for agents, their API keys, their config, and LLM providers."""
from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from agents import config, llm_catalog, services
from agents.config_schema import SCHEMA
from agents.forms import AgentForm, CloneForm, FromTemplateForm, KeyForm, ModelForm, ProviderForm, TomlForm
from agents.models import Agent, ConfigChange, LLMModel, LLMProvider, TaskModelList
from agents.templates import TEMPLATES
from maibot.errors import Conflict, LimitReached
from tenants import apikeys
from tenants.dashboard import actor_of, member_required, show_errors
from tenants.models import ApiKey


def _agent(slug: str) -> Agent:
    agent = Agent.objects.filter(slug=slug).first()
    if agent is None:
        raise Http404("No such agent.")
    return agent


def _connected(agent: Agent) -> list[str]:
    """Platforms where an adapter of this agent holds the connection now (the gateway's
    ownership keys in Redis)."""
    from django.db import connection

    from chat import redis_clients

    pattern = redis_clients.key(connection.schema_name, "adapter", agent.slug, "*")
    prefix = pattern[:-1]
    keys = redis_clients.sync_client().scan_iter(match=pattern, count=100)
    return sorted(k.decode()[len(prefix):] if isinstance(k, bytes) else k[len(prefix):] for k in keys)


@member_required()
def agent_list(request: HttpRequest) -> HttpResponse:
    from chat.models import ChatStream

    last = dict(ChatStream.objects.values_list("agent__slug").annotate(last=Max("last_message_at")))
    agents = [(agent, last.get(agent.slug), _connected(agent)) for agent in Agent.objects.order_by("slug")]
    return render(request, "dashboard/agents.html", {"agents": agents, "form": FromTemplateForm(), "templates": TEMPLATES.values()})


@require_POST
@member_required("admin")
def agent_create(request: HttpRequest) -> HttpResponse:
    form = FromTemplateForm(request.POST)
    if form.is_valid():
        try:
            agent = services.create_agent_from_template(
                request.tenant, form.cleaned_data["template"], slug=form.cleaned_data["slug"],
                name=form.cleaned_data["name"] or None, actor=actor_of(request),
            )
        except ValidationError as error:
            show_errors(form, error)
        except (LimitReached, Conflict) as problem:
            form.add_error(None, str(problem))
        else:
            messages.success(request, f"Agent {agent.name} created. Next: give it an API key.")
            return redirect("agent", slug=agent.slug)
    agents = [(agent, None, []) for agent in Agent.objects.order_by("slug")]
    return render(request, "dashboard/agents.html", {"agents": agents, "form": form, "templates": TEMPLATES.values()}, status=400)


@member_required()
def agent_detail(request: HttpRequest, slug: str) -> HttpResponse:
    agent = _agent(slug)
    initial = {
        "name": agent.name, "persona": agent.persona, "reply_style": agent.reply_style, "is_active": agent.is_active,
        "platform_accounts": "\n".join(f"{p}={a}" for p, a in agent.platform_accounts.items()),
    }
    form = AgentForm(initial=initial)
    if request.method == "POST":
        if request.membership.role not in ("admin", "owner"):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("This needs the admin role.")
        form = AgentForm(request.POST)
        if form.is_valid():
            try:
                services.update_agent(agent, form.cleaned_data, actor=actor_of(request))
            except ValidationError as error:
                show_errors(form, error)
            else:
                messages.success(request, "Saved.")
                return redirect("agent", slug=agent.slug)
    return render(request, "dashboard/agent.html", {"agent": agent, "form": form, "clone_form": CloneForm(), "connected": _connected(agent)})


@require_POST
@member_required("admin")
def agent_clone(request: HttpRequest, slug: str) -> HttpResponse:
    agent = _agent(slug)
    form = CloneForm(request.POST)
    if form.is_valid():
        try:
            clone = services.clone_agent(request.tenant, agent, slug=form.cleaned_data["slug"], name=form.cleaned_data["name"] or None, actor=actor_of(request))
        except ValidationError as error:
            messages.error(request, " ".join(m for ms in error.message_dict.values() for m in ms) if hasattr(error, "error_dict") else " ".join(error.messages))
        except (LimitReached, Conflict) as problem:
            messages.error(request, str(problem))
        else:
            messages.success(request, f"Cloned into {clone.slug}.")
            return redirect("agent", slug=clone.slug)
    return redirect("agent", slug=agent.slug)


@require_POST
@member_required("admin")
def agent_toggle(request: HttpRequest, slug: str) -> HttpResponse:
    agent = _agent(slug)
    services.update_agent(agent, {"is_active": not agent.is_active}, actor=actor_of(request))
    messages.success(request, f"{agent.name} is now {'active' if agent.is_active else 'deactivated'}.")
    return redirect("agent", slug=agent.slug)


@require_POST
@member_required("owner")
def agent_delete(request: HttpRequest, slug: str) -> HttpResponse:
    agent = _agent(slug)
    services.delete_agent(request.tenant, agent, actor=actor_of(request))
    messages.success(request, f"{agent.name} and everything it owned were deleted.")
    return redirect("agents")


@member_required("admin")
def agent_keys(request: HttpRequest, slug: str) -> HttpResponse:
    agent = _agent(slug)
    form = KeyForm()
    shown = None
    if request.method == "POST":
        form = KeyForm(request.POST)
        if form.is_valid():
            try:
                shown = services.issue_key(request.tenant, agent, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"], actor=actor_of(request))
            except ValidationError as error:
                show_errors(form, error)
            else:
                form = KeyForm()
    return _keys_page(request, agent, form, shown)


def _keys_page(request: HttpRequest, agent: Agent, form: KeyForm, shown: apikeys.IssuedKey | None) -> HttpResponse:
    host = request.get_host()
    return render(request, "dashboard/keys.html", {
        "agent": agent, "keys": apikeys.keys_of_agent(request.tenant, agent.slug), "form": form, "shown": shown,
        "ws_url": f"{'wss' if request.is_secure() else 'ws'}://{host}/ws",
    })


def _key(request: HttpRequest, agent: Agent, key_id: int) -> ApiKey:
    try:
        return apikeys.get_key(request.tenant, agent.slug, key_id)
    except ApiKey.DoesNotExist:
        raise Http404("No such key.") from None


@require_POST
@member_required("admin")
def key_revoke(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    agent = _agent(slug)
    services.revoke_key(_key(request, agent, key_id), actor=actor_of(request))
    messages.success(request, "The key was revoked; adapters using it are refused from now on.")
    return redirect("agent-keys", slug=agent.slug)


@require_POST
@member_required("admin")
def key_rotate(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    agent = _agent(slug)
    try:
        shown = services.rotate_key(_key(request, agent, key_id), actor=actor_of(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages if not hasattr(error, "error_dict") else sum(error.message_dict.values(), [])))
        return redirect("agent-keys", slug=agent.slug)
    return _keys_page(request, agent, KeyForm(), shown)


LAYERS = ("tenant", "agent", "platform")


def _config_rows(agent: Agent, platform: str | None) -> list[dict]:
    effective = config.effective_config(agent, platform)
    rows = []
    for name, key in SCHEMA.items():
        value = effective.values[name]
        rows.append({
            "key": key, "value": value, "source": effective.sources[name],
            "text": json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value,
            "is_text": key.kind is str, "layers": [layer for layer in LAYERS if layer in key.layers],
        })
    return rows


@member_required()
def agent_config(request: HttpRequest, slug: str) -> HttpResponse:
    agent = _agent(slug)
    platform = (request.GET.get("platform") or request.POST.get("platform") or "").strip() or None
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if request.membership.role not in ("admin", "owner"):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("This needs the admin role.")
        key, layer = request.POST.get("key", ""), request.POST.get("layer", "agent")
        try:
            if request.POST.get("action") == "clear":
                config.clear_config_value(layer, key, agent=agent, platform=platform, actor=actor_of(request))
            else:
                raw = request.POST.get("value", "")
                value = raw if key in SCHEMA and SCHEMA[key].kind is str else json.loads(raw or "null")
                config.set_config_value(layer, key, value, agent=agent, platform=platform, actor=actor_of(request))
        except json.JSONDecodeError:
            errors[key] = ["Write a JSON value, e.g. 0.5, true or [\"23:00-07:00\"]."]
        except ValidationError as error:
            errors = error.message_dict if hasattr(error, "error_dict") else {key: error.messages}
        else:
            messages.success(request, f"{key} saved at the {layer} layer.")
            suffix = f"?platform={platform}" if platform else ""
            return redirect(f"{request.path}{suffix}")
    platforms = sorted(set(agent.platform_accounts) | {p for p in [platform] if p})
    return render(request, "dashboard/config.html", {
        "agent": agent, "platform": platform or "", "platforms": platforms, "rows": _config_rows(agent, platform),
        "errors": errors, "history": ConfigChange.objects.filter(agent_slug__in=[agent.slug, ""])[:30],
    }, status=400 if errors else 200)


@require_POST
@member_required("admin")
def config_rollback(request: HttpRequest, slug: str, change_id: int) -> HttpResponse:
    agent = _agent(slug)
    change = ConfigChange.objects.filter(pk=change_id, agent_slug__in=[agent.slug, ""]).first()
    if change is None:
        raise Http404("No such history entry.")
    try:
        config.rollback_config(change, actor=actor_of(request))
    except ValidationError as error:
        messages.error(request, " ".join(sum(error.message_dict.values(), [])))
    else:
        messages.success(request, f"{change.key} is back to its value before that change.")
    return redirect("agent-config", slug=agent.slug)


@member_required()
def llm(request: HttpRequest) -> HttpResponse:
    forms = {"provider": ProviderForm(prefix="p"), "model": ModelForm(prefix="m"), "toml": TomlForm(prefix="t")}
    status = 200
    if request.method == "POST":
        if request.membership.role not in ("admin", "owner"):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("This needs the admin role.")
        kind = request.POST.get("form")
        actor = actor_of(request)
        if kind == "provider":
            form = forms["provider"] = ProviderForm(request.POST, prefix="p")
            action = lambda data: llm_catalog.create_provider(actor=actor, **data)  # noqa: E731
        elif kind == "model":
            form = forms["model"] = ModelForm(request.POST, prefix="m")
            action = lambda data: llm_catalog.create_model(actor=actor, **data)  # noqa: E731
        elif kind == "toml":
            form = forms["toml"] = TomlForm(request.POST, prefix="t")
            action = lambda data: llm_catalog.import_model_config_toml(data["toml"], actor=actor)  # noqa: E731
        elif kind == "task":
            names = [n.strip() for n in request.POST.get("model_names", "").split(",") if n.strip()]
            try:
                llm_catalog.set_task_models(request.POST.get("task", ""), names, actor=actor)
            except ValidationError as error:
                messages.error(request, " ".join(sum(error.message_dict.values(), [])))
            else:
                messages.success(request, "Task models saved.")
            return redirect("llm")
        else:
            raise Http404("Unknown form.")
        if form.is_valid():
            try:
                action(form.cleaned_data)
            except ValidationError as error:
                show_errors(form, error)
            else:
                messages.success(request, "Saved.")
                return redirect("llm")
        status = 400
    tasks = {t.task: t for t in TaskModelList.objects.all()}
    return render(request, "dashboard/llm.html", {
        "providers": LLMProvider.objects.all(), "models": LLMModel.objects.select_related("provider"),
        "tasks": [(task, tasks.get(task)) for task in TaskModelList.Task.values], "forms": forms,
        "check": request.session.pop("connection_check", None),
    }, status=status)


@require_POST
@member_required("admin")
def provider_test(request: HttpRequest, provider_id: int) -> HttpResponse:
    provider = LLMProvider.objects.filter(pk=provider_id).first()
    if provider is None:
        raise Http404("No such provider.")
    check = llm_catalog.test_provider_connection(provider)
    request.session["connection_check"] = {"provider": provider.name, "ok": check.ok, "status": check.status, "latency_ms": check.latency_ms, "models": check.models[:20], "error": check.error}
    return redirect("llm")


@require_POST
@member_required("admin")
def provider_delete(request: HttpRequest, provider_id: int) -> HttpResponse:
    provider = LLMProvider.objects.filter(pk=provider_id).first()
    if provider is None:
        raise Http404("No such provider.")
    llm_catalog.delete_provider(provider, actor=actor_of(request))
    messages.success(request, f"Provider {provider.name} deleted.")
    return redirect("llm")
