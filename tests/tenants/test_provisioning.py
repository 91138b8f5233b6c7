from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from tenants import services
from tenants.models import Domain, Membership, Tenant


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def test_creating_a_tenant_makes_its_schema_domain_and_owner(db):
    created = services.create_tenant(slug="gamma-1", name="Gamma", owner_email="Boss@Gamma.example")

    assert created.tenant.schema_name == "t_gamma_1"
    assert schema_exists("t_gamma_1")
    assert Domain.objects.get(tenant=created.tenant).domain == "gamma-1.localhost"
    owner = Membership.objects.get(tenant=created.tenant)
    assert (owner.user.username, owner.role) == ("boss@gamma.example", "owner")
    assert owner.user.check_password(created.owner_password)
    assert created.tenant.plan.name == "free"


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("Acme", "Invalid slug"),
        ("acme_corp", "Invalid slug"),
        ("-acme", "Invalid slug"),
        ("acme-", "Invalid slug"),
        ("", "Invalid slug"),
        ("a" * 41, "Invalid slug"),
        ("www", "reserved"),
        ("api", "reserved"),
        ("admin", "reserved"),
        ("public", "reserved"),
    ],
)
def test_bad_slugs_are_refused_with_a_message(db, slug, message):
    with pytest.raises(ValidationError) as excinfo:
        services.create_tenant(slug=slug, name="X")

    assert message in " ".join(excinfo.value.messages)
    assert not Tenant.objects.filter(slug=slug).exists()


def test_a_taken_slug_is_refused(tenant_a):
    with pytest.raises(ValidationError, match="already exists"):
        services.create_tenant(slug=tenant_a.slug, name="Again")


def test_deleting_a_tenant_drops_its_schema_and_rows(db):
    created = services.create_tenant(slug="doomed", name="Doomed", owner_email="x@doomed.example")

    services.delete_tenant("doomed")

    assert not schema_exists(created.tenant.schema_name)
    assert not Tenant.objects.filter(slug="doomed").exists()
    assert not Domain.objects.filter(domain="doomed.localhost").exists()
    assert not Membership.objects.filter(tenant_id=created.tenant.pk).exists()


def test_suspend_and_resume_change_the_status(tenant_a):
    assert services.suspend_tenant(tenant_a.slug).status == "suspended"
    assert services.resume_tenant(tenant_a.slug).status == "active"


def test_the_command_creates_lists_suspends_resumes_and_deletes(db, capsys):
    call_command("tenant", "create", "--slug", "cmd-co", "--name", "Cmd Co", "--owner-email", "o@cmd.example")
    out = capsys.readouterr().out
    assert "Created tenant cmd-co" in out and "Owner login: o@cmd.example / " in out

    call_command("tenant", "suspend", "cmd-co")
    call_command("tenant", "list")
    listing = capsys.readouterr().out
    assert any(line.split()[:2] == ["cmd-co", "suspended"] for line in listing.splitlines())

    call_command("tenant", "resume", "cmd-co")
    call_command("tenant", "delete", "cmd-co", "--yes")
    assert not Tenant.objects.filter(slug="cmd-co").exists()


def test_the_command_reports_a_bad_slug_clearly(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="reserved"):
        call_command("tenant", "create", "--slug", "www", "--name", "W")
