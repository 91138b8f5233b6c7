"""`manage.py tenant create|list|suspend|resume|delete`: provisioning from the shell."""
from __future__ import annotations

import argparse

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants import services


class Command(BaseCommand):
    help = "Create, list, suspend, resume or delete tenants."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a tenant with its schema and domain")
        create.add_argument("--slug", required=True)
        create.add_argument("--name", required=True)
        create.add_argument("--owner-email")
        create.add_argument("--if-missing", action="store_true", help="do nothing if the slug exists")
        actions.add_parser("list", help="list tenants")
        for action in ("suspend", "resume", "delete"):
            sub = actions.add_parser(action, help=f"{action} a tenant")
            sub.add_argument("slug")
            if action == "delete":
                sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args: object, action: str, **options: object) -> None:
        try:
            getattr(self, f"do_{action}")(**options)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None

    def do_create(self, slug: str, name: str, owner_email: str | None, if_missing: bool, **_: object) -> None:
        if if_missing and services.Tenant.objects.filter(slug=slug).exists():
            self.stdout.write(f"Tenant {slug} exists; nothing to do.")
            return
        created = services.create_tenant(slug=slug, name=name, owner_email=owner_email)
        self.stdout.write(self.style.SUCCESS(
            f"Created tenant {slug} (schema {created.tenant.schema_name}, host "
            f"{services.domain_for(slug)}) in {created.seconds:.2f}s"
        ))
        if created.owner_password:
            self.stdout.write(f"Owner login: {owner_email} / {created.owner_password}")

    def do_list(self, **_: object) -> None:
        tenants = services.list_tenants()
        if not tenants:
            self.stdout.write("No tenants.")
            return
        self.stdout.write(f"{'SLUG':<24} {'STATUS':<10} {'PLAN':<10} {'CREATED':<20} NAME")
        for tenant in tenants:
            plan = tenant.plan.name if tenant.plan else "-"
            created = tenant.created.strftime("%Y-%m-%d %H:%M")
            self.stdout.write(f"{tenant.slug:<24} {tenant.status:<10} {plan:<10} {created:<20} {tenant.name}")

    def do_suspend(self, slug: str, **_: object) -> None:
        services.suspend_tenant(slug)
        self.stdout.write(self.style.SUCCESS(f"Suspended {slug}."))

    def do_resume(self, slug: str, **_: object) -> None:
        services.resume_tenant(slug)
        self.stdout.write(self.style.SUCCESS(f"Resumed {slug}."))

    def do_delete(self, slug: str, yes: bool, **_: object) -> None:
        services.get_tenant(slug)
        if not yes:
            answer = input(f"Delete tenant {slug} and ALL its data for good? Type the slug to confirm: ")
            if answer.strip() != slug:
                raise CommandError("Not confirmed; nothing deleted.")
        services.delete_tenant(slug)
        self.stdout.write(self.style.SUCCESS(f"Deleted {slug} and its schema."))
