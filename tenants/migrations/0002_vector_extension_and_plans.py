from decimal import Decimal

from django.db import migrations

PLANS = [
    # name, display, agents, daily tokens, monthly cost, daily requests, memories
    ("free", "Free", 3, 1_000_000, Decimal("50"), 10_000, 100_000),
    ("pro", "Pro", 20, 20_000_000, Decimal("1000"), 200_000, 2_000_000),
]


def create_plans(apps, schema_editor):
    Plan = apps.get_model("tenants", "Plan")
    for name, display, agents, tokens, cost, requests, memories in PLANS:
        Plan.objects.get_or_create(
            name=name,
            defaults=dict(display_name=display, max_agents=agents, daily_tokens=tokens,
                          monthly_cost=cost, daily_requests=requests, max_memories=memories),
        )


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [
        # pgvector must live in public: created from a tenant app it would land in the
        # first tenant's schema and every other tenant would fail to use it.
        migrations.RunSQL(
            "CREATE EXTENSION IF NOT EXISTS vector SCHEMA public",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunPython(create_plans, migrations.RunPython.noop),
    ]
