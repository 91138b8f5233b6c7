"""Create, once, the demo tenant with its owner and a staff account; print how to sign in."""
from __future__ import annotations

import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from tenants import services
from tenants.models import Membership, Tenant

DEMO_SLUG = "demo"
OWNER_EMAIL = "owner@demo.localhost"
STAFF_EMAIL = "staff@localhost"


class Command(BaseCommand):
    help = "Create the demo tenant and accounts if missing; print logins and URLs."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: object, port: int, **options: object) -> None:
        credentials = self._credentials()
        User = get_user_model()
        if not Tenant.objects.filter(slug=DEMO_SLUG).exists():
            created = services.create_tenant(slug=DEMO_SLUG, name="Demo Organisation")
            self.stdout.write(f"Created the demo tenant in {created.seconds:.2f}s.")
        tenant = Tenant.objects.get(slug=DEMO_SLUG)
        owner = User.objects.filter(username=OWNER_EMAIL).first()
        if owner is None:
            owner = User.objects.create_user(OWNER_EMAIL, OWNER_EMAIL, credentials["owner"])
        Membership.objects.get_or_create(user=owner, tenant=tenant, defaults={"role": Membership.Role.OWNER})
        if not User.objects.filter(username=STAFF_EMAIL).exists():
            User.objects.create_superuser(STAFF_EMAIL, STAFF_EMAIL, credentials["staff"])

        base = settings.BASE_DOMAIN
        self.stdout.write(self.style.SUCCESS("MaiBot Cloud is starting."))
        self.stdout.write(f"  Dashboard      http://{DEMO_SLUG}.{base}:{port}/   sign in as {OWNER_EMAIL} / {credentials['owner']}")
        self.stdout.write(f"  Staff admin    http://{base}:{port}/admin/   sign in as {STAFF_EMAIL} / {credentials['staff']}")
        self.stdout.write(f"  API docs       http://{DEMO_SLUG}.{base}:{port}/api/v2/docs/")
        self.stdout.write(f"  WebSocket      ws://{DEMO_SLUG}.{base}:{port}/ws   (headers: platform, Authorization: <agent API key>)")
        self.stdout.write(f"  Health         http://{base}:{port}/healthz and /readyz")

    def _credentials(self) -> dict[str, str]:
        """Passwords are generated on the first run and kept under var/ for later runs."""
        path = Path(settings.VAR_DIR) / "demo-credentials.json"
        if path.exists():
            return json.loads(path.read_text())
        credentials = {"owner": secrets.token_urlsafe(9), "staff": secrets.token_urlsafe(9)}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(credentials))
        path.chmod(0o600)
        return credentials
