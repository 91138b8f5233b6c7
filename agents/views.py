"""Dashboard pages for agents, their API keys, their config, and LLM providers."""
from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from agents import config, llm_catalog, model_config_import, services
from agents.config_schema import SCHEMA
from agents.forms import AgentForm, CloneForm, FromTemplateForm, KeyForm, ModelForm, ProviderForm, TomlForm
from agents.models import Agent, ConfigChange, LLMModel, LLMProvider, TaskModelList
from agents.templates import TEMPLATES
from maibot.errors import Conflict, LimitReached
from tenants import apikeys
from tenants.dashboard import actor_of, error_messages, member_required, show_errors
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
        except Conflict as taken:  # the only conflict on create is a slug in use
            form.add_error("slug", str(taken))
        except LimitReached as limit:
            form.add_error(None, str(limit))
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
            messages.error(request, " ".join(error_messages(error)))
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
        "grace": _duration(settings.API_KEY_ROTATION_GRACE_SECONDS),
    })


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


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
        messages.error(request, " ".join(error_messages(error)))
        return redirect("agent-keys", slug=agent.slug)
    return _keys_page(request, agent, KeyForm(), shown)


LAYERS = ("tenant", "agent", "platform")


def _nearest_layer(layers: frozenset[str], platform: str | None) -> str:
    """The layer a change most likely means: the platform's when one is shown, else the agent's."""
    for layer in ("platform", "agent", "tenant"):
        if layer in layers and (layer != "platform" or platform):
            return layer
    return "tenant"


def _config_rows(agent: Agent, platform: str | None) -> list[dict]:
    effective = config.effective_config(agent, platform)
    rows = []
    for name, key in SCHEMA.items():
        value = effective.values[name]
        rows.append({
            "key": key, "value": value, "source": effective.sources[name],
            "text": json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value,
            "is_text": key.kind is str, "layers": [layer for layer in LAYERS if layer in key.layers],
            "default_layer": _nearest_layer(key.layers, platform),
        })
    return rows


@member_required()
def agent_config(request: HttpRequest, slug: str) -> HttpResponse:
    agent = _agent(slug)
    # A platform typed in "other platform" wins over the list's choice.
    chosen = request.GET.get("other_platform") or request.GET.get("platform") or request.POST.get("platform") or ""
    platform = chosen.strip() or None
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if request.membership.role not in ("admin", "owner"):
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
        messages.error(request, " ".join(error_messages(error)))
    else:
        messages.success(request, f"{change.key} is back to its value before that change.")
    return redirect("agent-config", slug=agent.slug)


def _llm_page(request: HttpRequest, forms: dict, status: int = 200) -> HttpResponse:
    tasks = {t.task: t for t in TaskModelList.objects.all()}
    return render(request, "dashboard/llm.html", {
        "providers": LLMProvider.objects.all(), "models": LLMModel.objects.select_related("provider"),
        "tasks": [(task, tasks.get(task)) for task in TaskModelList.Task.values], "forms": forms,
        "check": request.session.pop("connection_check", None),
    }, status=status)


def _blank_llm_forms() -> dict:
    return {"provider": ProviderForm(prefix="p"), "model": ModelForm(prefix="m"), "toml": TomlForm(prefix="t")}


@member_required()
def llm(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _llm_page(request, _blank_llm_forms())
    if request.membership.role not in ("admin", "owner"):
        raise PermissionDenied("This needs the admin role.")
    kind, actor, forms = request.POST.get("form"), actor_of(request), _blank_llm_forms()
    if kind == "task":
        names = [n.strip() for n in request.POST.get("model_names", "").split(",") if n.strip()]
        try:
            llm_catalog.set_task_models(request.POST.get("task", ""), names, actor=actor)
        except ValidationError as error:
            messages.error(request, " ".join(error_messages(error)))
        else:
            messages.success(request, "Task models saved.")
        return redirect("llm")
    if kind == "provider":
        form = forms["provider"] = ProviderForm(request.POST, prefix="p")
        if form.is_valid():
            try:
                provider = llm_catalog.create_provider(actor=actor, **form.cleaned_data)
            except ValidationError as error:
                show_errors(form, error)
            else:
                messages.success(request, f"Provider {provider.name} added. Its API key is stored encrypted and never shown again.")
                return redirect("llm")
    elif kind == "model":
        form = forms["model"] = ModelForm(request.POST, prefix="m")
        if form.is_valid():
            try:
                model = llm_catalog.create_model(actor=actor, **form.cleaned_data)
            except ValidationError as error:
                show_errors(form, error)
            else:
                messages.success(request, f"Model {model.name} added.")
                return redirect("llm")
    elif kind == "toml":
        form = forms["toml"] = TomlForm(request.POST, prefix="t")
        if form.is_valid():
            try:
                summary = model_config_import.import_model_config_toml(form.cleaned_data["toml"], actor=actor)
            except ValidationError as error:
                # The importer names the entry at fault (e.g. `models[2].provider`); all of it concerns the file.
                form.add_error("toml", error_messages(error))
            else:
                messages.success(request, _import_report(summary))
                for skipped in summary.skipped:
                    messages.warning(request, f"Skipped: {skipped}")
                return redirect("llm")
    else:
        raise Http404("Unknown form.")
    return _llm_page(request, forms, status=400)


def _import_report(summary: model_config_import.ImportSummary) -> str:
    parts = [f"{label}: {', '.join(names)}" for label, names in
             (("providers", summary.providers), ("models", summary.models), ("task lists", summary.tasks)) if names]
    return "Imported " + ("; ".join(parts) if parts else "nothing") + "."


@require_POST
@member_required("admin")
def provider_test(request: HttpRequest, provider_id: int) -> HttpResponse:
    provider = LLMProvider.objects.filter(pk=provider_id).first()
    if provider is None:
        raise Http404("No such provider.")
    check = llm_catalog.check_provider_connection(provider)
    request.session["connection_check"] = {
        "provider": provider.name, "ok": check.ok, "status": check.status, "latency_ms": check.latency_ms,
        "models": check.models[:20], "error": check.error,
    }
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
