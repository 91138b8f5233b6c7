"""A tenant admin's day in the dashboard, in a real browser against the running server."""
from __future__ import annotations

import re
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Q
from django_tenants.utils import tenant_context

from agents.models import Agent, LLMModel, LLMProvider, TaskModelList
from chat.models import ChatStream, Message, UsageRecord
from memory.models import HourlyStats
from tenants.models import Membership
from tests.chat.conftest import forget_chat_counters, use_models

pytestmark = pytest.mark.browser
PASSWORD = "e2e-Passw0rd!"
MODELS = ("fake-chat", "fake-planner")


@pytest.fixture
def people(transactional_db, tenant_a, tenant_b, openai_server):
    """An owner and a viewer of tenant A, with A's replyer and planner served by the local
    OpenAI-compatible server; B has a chat of its own. Removed afterwards (committed data)."""
    suffix = uuid.uuid4().hex[:6]
    users = {}
    for role in ("owner", "viewer"):
        user = get_user_model().objects.create_user(username=f"{role}-{suffix}@e2e.example", email=f"{role}-{suffix}@e2e.example", password=PASSWORD)
        Membership.objects.create(user=user, tenant=tenant_a, role=role)
        users[role] = user
    with tenant_context(tenant_a):
        use_models(openai_server, "replyer", [MODELS[0]], price_in="1", price_out="2")
        use_models(openai_server, "planner", [MODELS[1]])
    with tenant_context(tenant_b):
        b_agent = Agent.objects.create(slug=f"b-{suffix}", name="B's agent")
        b_stream = ChatStream.objects.create(stream_id=uuid.uuid4().hex * 2, agent=b_agent, platform="qq", group_id="1")
    openai_server.default_text = "Hi! Nice to meet you."
    yield {"users": users, "b_stream": b_stream.stream_id, "suffix": suffix}
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            Agent.objects.filter(slug__endswith=suffix).delete()
            # what the playground's turn metered (usage rows outlive their agent)
            UsageRecord.objects.filter(model_name__in=MODELS).delete()
            HourlyStats.objects.filter(Q(agent_slug__endswith=suffix) | Q(model_name__in=MODELS)).delete()
            LLMModel.objects.all().delete()
            LLMProvider.objects.all().delete()
            TaskModelList.objects.all().delete()
    forget_chat_counters(tenant_a, tenant_b)  # the quota counters are rebuilt from what is left


def _sign_in(browser, base: str, email: str):  # noqa: ANN001, ANN202
    context = browser.new_context()
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # confirmations before destructive actions
    page.goto(f"{base}/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return context, page


def test_an_owner_creates_an_agent_keys_it_configures_it_and_talks_to_it(browser, web_server, people, screenshot_dir, host_a):
    base = f"http://{host_a}:{web_server.port}"
    slug = f"mai-{people['suffix']}"
    context, page = _sign_in(browser, base, people["users"]["owner"].email)
    assert page.get_by_test_id("tenant").inner_text() == "alpha"
    assert page.get_by_test_id("role").inner_text() == "owner"
    page.screenshot(path=screenshot_dir / "01-overview.png", full_page=True)

    # an agent from a template
    page.goto(f"{base}/agents/")
    page.select_option("#id_template", "friendly-group-member")
    page.fill("#id_slug", slug)
    page.click("[data-testid=create-agent] button[type=submit]")
    page.wait_for_url(f"{base}/agents/{slug}/")
    assert "friendly member" in page.input_value("#id_persona")
    page.goto(f"{base}/agents/")
    page.screenshot(path=screenshot_dir / "02-agents.png", full_page=True)

    # a key, shown once
    page.goto(f"{base}/agents/{slug}/keys/")
    page.click("[data-testid=create-key] button[type=submit]")
    key = page.locator("#new-key").inner_text().strip()
    assert re.fullmatch(rf"mmc_alpha_{slug}_[0-9a-f]{{40}}_v1", key)
    page.screenshot(path=screenshot_dir / "03-key-shown-once.png", full_page=True)
    page.goto(f"{base}/agents/{slug}/keys/")  # a fresh visit: the key is never shown again
    assert key not in page.content()
    assert page.locator("[data-testid=keys] tr").count() == 2
    page.screenshot(path=screenshot_dir / "03b-keys.png", full_page=True)

    # a config value and the layer it comes from
    page.goto(f"{base}/agents/{slug}/config/")
    row = page.locator("tr[data-key=talk_frequency]")
    assert row.get_by_test_id("source").inner_text() == "default"
    row.locator("input[name=value]").fill("0.2")
    row.locator("button[value=set]").click()
    page.wait_for_load_state()
    row = page.locator("tr[data-key=talk_frequency]")
    assert row.get_by_test_id("value").inner_text() == "0.2"
    assert row.get_by_test_id("source").inner_text() == "agent"
    page.screenshot(path=screenshot_dir / "04-config.png", full_page=True)

    # the live view, open while we talk in the playground
    live = context.new_page()
    live.goto(f"{base}/agents/{slug}/live/")
    live.wait_for_selector("#live-state.ok")
    page.goto(f"{base}/agents/{slug}/playground/")
    page.fill("#text", "hello there, who are you?")
    page.click("[data-testid=playground] button[type=submit]")
    assert page.get_by_test_id("reply").inner_text() == "Hi! Nice to meet you."
    assert page.get_by_test_id("decision").inner_text() == "reply"
    page.screenshot(path=screenshot_dir / "05-playground.png", full_page=True)
    live.wait_for_selector("#live .msg.in:has-text('hello there, who are you?')")
    live.wait_for_selector("#live .msg.out:has-text('Hi! Nice to meet you.')")
    live.screenshot(path=screenshot_dir / "06-live-view.png", full_page=True)

    # usage on the chart
    page.goto(f"{base}/usage/")
    tokens = [float(v) for v in page.locator("[data-testid=chart-tokens_in] rect.bar").evaluate_all("els => els.map(e => e.dataset.value)")]
    assert sum(tokens) > 0
    assert page.locator("[data-testid=by-model]").inner_text().count("fake-chat") == 1
    page.screenshot(path=screenshot_dir / "07-usage.png", full_page=True)

    # the chat history keeps the conversation
    page.goto(f"{base}/chats/")
    page.click("text=private: dashboard-")
    assert page.locator("text=hello there, who are you?").count() == 1
    page.screenshot(path=screenshot_dir / "08-chat-history.png", full_page=True)

    # the other main pages, for the record
    for name, path in (("10-llm", "/llm/"), ("11-memory", "/memory/"), ("12-members", "/members/"), ("13-audit", "/audit/")):
        assert page.goto(f"{base}{path}").status == 200, path
        page.screenshot(path=screenshot_dir / f"{name}.png", full_page=True)
    assert page.locator("[data-testid=audit]").inner_text().count("key.create") == 1
    context.close()


def test_tenant_bs_urls_and_ids_answer_404_to_a_member_of_tenant_a(browser, web_server, people, host_a, host_b):
    base = f"http://{host_a}:{web_server.port}"
    context, page = _sign_in(browser, base, people["users"]["owner"].email)

    for path in (f"/chats/{people['b_stream']}/", f"/agents/b-{people['suffix']}/", f"/agents/b-{people['suffix']}/keys/"):
        response = page.goto(f"{base}{path}")
        assert response.status == 404, path
    response = page.goto(f"http://{host_b}:{web_server.port}/agents/")
    assert response.url.endswith("/login/?next=/agents/")  # not signed in there, and nothing revealed
    context.close()


def test_a_viewer_sees_no_write_buttons_and_the_server_refuses_them(browser, web_server, people, screenshot_dir, host_a, tenant_a):
    with tenant_context(tenant_a):
        Agent.objects.create(slug=f"view-{people['suffix']}", name="Viewed")
    base = f"http://{host_a}:{web_server.port}"
    context, page = _sign_in(browser, base, people["users"]["viewer"].email)

    page.goto(f"{base}/agents/")
    assert page.locator("[data-testid=create-agent]").count() == 0
    page.goto(f"{base}/agents/view-{people['suffix']}/config/")
    assert page.locator("button[value=set]").count() == 0
    page.screenshot(path=screenshot_dir / "09-viewer-config.png", full_page=True)
    # a forged POST from the viewer's own page, with a valid CSRF token
    status = page.evaluate(
        """async (url) => {
            const token = document.cookie.split("; ").find(c => c.startsWith("csrftoken=")).split("=")[1];
            const response = await fetch(url, {method: "POST", headers: {"X-CSRFToken": token}, credentials: "same-origin"});
            return response.status;
        }""",
        f"{base}/agents/view-{people['suffix']}/toggle/",
    )
    assert status == 403
    with tenant_context(tenant_a):
        assert Agent.objects.get(slug=f"view-{people['suffix']}").is_active
        assert not Message.objects.filter(stream__agent__slug=f"view-{people['suffix']}").exists()
    context.close()


def test_staff_see_organisations_with_usage_and_confirm_before_suspending(browser, web_server, people, screenshot_dir, tenant_a):
    staff = get_user_model().objects.create_superuser(username=f"staff-{people['suffix']}", email=f"staff-{people['suffix']}@e2e.example", password=PASSWORD)
    base = f"http://localhost:{web_server.port}"
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/admin/login/?next=/admin/tenants/tenant/")
    page.fill("#id_username", staff.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/tenants/tenant/")

    # the admin's own stylesheet is served by the same server
    assert page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor") != "rgba(0, 0, 0, 0)"
    alpha = page.locator("#result_list tr", has_text="Alpha Org")
    assert "Active" in alpha.inner_text()
    page.screenshot(path=screenshot_dir / "20-staff-tenants.png", full_page=True)

    alpha.locator("input[name=_selected_action]").check()
    page.select_option("select[name=action]", "suspend")
    page.click("button[name=index]")
    assert "Suspend organisations?" in page.content()
    page.screenshot(path=screenshot_dir / "21-staff-confirm-suspend.png", full_page=True)
    page.click("text=No, go back")
    tenant_a.refresh_from_db()
    assert tenant_a.status == "active"
    context.close()
    staff.delete()
