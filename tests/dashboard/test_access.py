from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import tenant_context

from agents.models import Agent
from memory.models import Memory
from tenants.models import Membership

PAGES = ["/", "/agents/", "/agents/mai/", "/agents/mai/config/", "/agents/mai/live/", "/chats/", "/memory/", "/llm/", "/usage/", "/members/"]


def test_every_page_shows_the_tenant_and_the_role(member_client, agent_a):
    client = member_client("viewer")

    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        assert 'data-testid="tenant">alpha<' in html and 'data-testid="role">viewer<' in html, page


def test_anonymous_visitors_are_sent_to_sign_in(host_a, agent_a):
    response = Client(HTTP_HOST=host_a).get("/agents/")

    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_member_of_tenant_a_gets_404_on_tenant_bs_pages_and_ids(member_client, host_b, agent_b, tenant_b):
    with tenant_context(tenant_b):
        memory = Memory.objects.create(agent=agent_b, level="agent", title="secret", content="B's secret")
    client = member_client("owner", host=host_b)  # a member of A only

    for page in [*PAGES, f"/memory/{memory.pk}/edit/", "/agents/mai/keys/"]:
        assert client.get(page).status_code == 404, page
    assert client.post("/agents/mai/toggle/").status_code == 404
    with tenant_context(tenant_b):
        assert Agent.objects.get(slug="mai").is_active


def test_tenant_bs_ids_typed_on_tenant_as_host_are_404(member_client, agent_a, agent_b, tenant_b):
    with tenant_context(tenant_b):
        memory = Memory.objects.create(agent=agent_b, level="agent", title="secret", content="B's secret")
    client = member_client("owner")

    assert client.get(f"/memory/{memory.pk}/edit/").status_code == 404
    assert client.post(f"/memory/{memory.pk}/delete/").status_code == 404
    with tenant_context(tenant_b):
        assert Memory.objects.filter(pk=memory.pk).exists()


def test_viewers_see_no_write_buttons_and_the_server_refuses_forged_posts(member_client, agent_a, tenant_a):
    viewer = member_client("viewer")

    pages = "".join(viewer.get(p).content.decode() for p in ["/agents/", "/agents/mai/", "/agents/mai/config/", "/llm/", "/members/"])
    forged = [
        viewer.post("/agents/new/", {"template": "quiet-observer", "slug": "x"}),
        viewer.post("/agents/mai/", {"name": "Hacked"}),
        viewer.post("/agents/mai/toggle/"),
        viewer.post("/agents/mai/config/", {"key": "talk_frequency", "value": "1", "layer": "agent"}),
        viewer.post("/llm/", {"form": "provider", "p-name": "x", "p-base_url": "https://x.example/v1"}),
        viewer.post("/members/", {"email": "a@b.c", "role": "owner"}),
        viewer.post("/agents/mai/playground/", {"text": "hi"}),
    ]

    assert "Create agent" not in pages and "Deactivate" not in pages and ">Set<" not in pages and "Add provider" not in pages and "Invite" not in pages
    assert [r.status_code for r in forged] == [403] * len(forged)
    with tenant_context(tenant_a):
        agent = Agent.objects.get(slug="mai")
        assert agent.name == "Mai" and agent.is_active and Agent.objects.count() == 1


def test_the_public_host_hands_a_signed_in_user_over_to_their_tenant(tenant_a, host_a):
    user = get_user_model().objects.create_user(username="multi@example.com", email="multi@example.com", password="pw-123456!")
    Membership.objects.create(user=user, tenant=tenant_a, role="member")
    public = Client(HTTP_HOST="localhost")

    public.post("/login/", {"username": "multi@example.com", "password": "pw-123456!"})
    picker = public.get("/").content.decode()
    switch = public.get(f"/switch/{tenant_a.slug}/")
    token_path = re.sub(r"^https?://[^/]+", "", switch["Location"])
    tenant_client = Client(HTTP_HOST=host_a)
    landed = tenant_client.get(token_path)

    assert "Alpha Org" in picker
    assert switch["Location"].startswith(f"http://{host_a}")
    assert landed.status_code == 302 and tenant_client.get("/").status_code == 200


def test_a_hand_over_token_for_another_tenant_is_refused(tenant_a, tenant_b, host_b):
    user = get_user_model().objects.create_user(username="only-a@example.com", password="pw-123456!")
    Membership.objects.create(user=user, tenant=tenant_a, role="member")
    public = Client(HTTP_HOST="localhost")
    public.force_login(user)
    token_path = re.sub(r"^https?://[^/]+", "", public.get(f"/switch/{tenant_a.slug}/")["Location"])

    assert Client(HTTP_HOST=host_b).get(token_path).status_code == 404


def test_signing_in_on_a_tenant_host_needs_membership_there(tenant_b, host_a, tenant_a):
    user = get_user_model().objects.create_user(username="b-only@example.com", password="pw-123456!")
    Membership.objects.create(user=user, tenant=tenant_b, role="owner")

    response = Client(HTTP_HOST=host_a).post("/login/", {"username": "b-only@example.com", "password": "pw-123456!"})

    assert response.status_code == 200
    assert "not a member of this organisation" in response.content.decode()


def test_password_reset_sends_a_mail_with_a_working_link(tenant_a, host_a, mailoutbox):
    user = get_user_model().objects.create_user(username="forgot@example.com", email="forgot@example.com", password="old-pass-123")
    Membership.objects.create(user=user, tenant=tenant_a, role="member")
    client = Client(HTTP_HOST=host_a)

    client.post("/password-reset/", {"email": "forgot@example.com"})
    link = re.search(r"https?://[^/]+(/reset/\S+)", mailoutbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    client.post(form_page.redirect_chain[-1][0], {"new_password1": "n3w-Secret-pass", "new_password2": "n3w-Secret-pass"})

    user.refresh_from_db()
    assert user.check_password("n3w-Secret-pass")


@pytest.mark.parametrize(("actor_role", "target_role", "allowed"), [("admin", "member", True), ("admin", "owner", False), ("owner", "owner", True)])
def test_role_changes_follow_the_rules(member_client, tenant_a, actor_role, target_role, allowed):
    client = member_client(actor_role)
    member = Membership.objects.create(user=get_user_model().objects.create_user(username=f"t-{actor_role}-{target_role}@x.io"), tenant=tenant_a, role="viewer")

    client.post(f"/members/{member.pk}/role/", {"role": target_role})

    member.refresh_from_db()
    assert (member.role == target_role) is allowed


def test_the_last_owner_cannot_be_removed(member_client, tenant_a):
    Membership.objects.filter(tenant=tenant_a, role="owner").delete()
    owner = member_client("owner")
    mine = Membership.objects.get(tenant=tenant_a, role="owner")

    owner.post(f"/members/{mine.pk}/remove/")

    assert Membership.objects.filter(pk=mine.pk).exists()
