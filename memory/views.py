"""Dashboard pages for memory: browse by level, semantic search, edit, delete, conflicts."""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from agents.models import Agent
from memory import services
from memory.models import Conflict, Memory
from tenants.dashboard import actor_of, error_messages, member_required, show_errors


class MemoryForm(forms.Form):
    title = forms.CharField(max_length=200)
    content = forms.CharField(widget=forms.Textarea)
    tags = forms.CharField(required=False, help_text="Comma-separated")


@member_required()
def memory_list(request: HttpRequest) -> HttpResponse:
    agents = Agent.objects.order_by("slug")
    agent_slug = request.GET.get("agent") or (agents[0].slug if agents else "")
    agent = agents.filter(slug=agent_slug).first()
    level, query = request.GET.get("level", ""), request.GET.get("q", "").strip()
    hits, page = None, None
    if agent is not None:
        memories = Memory.objects.filter(agent=agent)
        if query:
            hits = services.search(memories, query, agent=agent, k=10, level=level or None)
        else:
            page = Paginator(services.query_memories(memories, level=level or None, include_expired=True), settings.DASHBOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    conflicts = Conflict.objects.filter(agent=agent, resolved=False) if agent else []
    return render(request, "dashboard/memory.html", {
        "agents": agents, "agent": agent, "level": level, "q": query, "hits": hits, "page": page,
        "levels": Memory.Level.choices, "conflicts": conflicts,
        "stats": services.memory_stats(Memory.objects.filter(agent=agent)) if agent else None,
    })


def _memory(memory_id: int) -> Memory:
    memory = Memory.objects.select_related("agent").filter(pk=memory_id).first()
    if memory is None:
        raise Http404("No such memory.")
    return memory


@member_required()
def memory_edit(request: HttpRequest, memory_id: int) -> HttpResponse:
    memory = _memory(memory_id)
    form = MemoryForm(initial={"title": memory.title, "content": memory.content, "tags": ", ".join(memory.tags)})
    if request.method == "POST":
        if request.membership.role == "viewer":
            raise PermissionDenied("Viewers cannot change memories.")
        form = MemoryForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            data["tags"] = [t.strip() for t in data["tags"].split(",") if t.strip()]
            try:
                services.update_memory(memory, data, actor=actor_of(request))
            except ValidationError as error:
                show_errors(form, error)
            else:
                messages.success(request, "Memory saved.")
                return redirect(f"/memory/?agent={memory.agent.slug}")
    return render(request, "dashboard/memory_edit.html", {"memory": memory, "form": form})


@require_POST
@member_required("member")
def memory_delete(request: HttpRequest, memory_id: int) -> HttpResponse:
    memory = _memory(memory_id)
    services.delete_memories(Memory.objects.all(), [memory.pk], actor=actor_of(request))
    messages.success(request, "Memory deleted.")
    return redirect(f"/memory/?agent={memory.agent.slug}")


@require_POST
@member_required("member")
def conflict_resolve(request: HttpRequest, conflict_id: int) -> HttpResponse:
    conflict = Conflict.objects.select_related("agent").filter(pk=conflict_id).first()
    if conflict is None:
        raise Http404("No such conflict.")
    try:
        services.resolve_conflict(conflict, resolution=request.POST.get("resolution", ""), actor=actor_of(request))
    except ValidationError as error:
        messages.error(request, " ".join(error_messages(error)))
    else:
        messages.success(request, "Conflict resolved.")
    return redirect(f"/memory/?agent={conflict.agent.slug}")
