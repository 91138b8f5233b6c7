"""The Celery app. Tenant-aware: a task queued inside a tenant runs in that tenant's schema."""
from __future__ import annotations

import os

from celery.signals import task_postrun, task_prerun
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maibot.settings")

app = CeleryApp("maibot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect(weak=False)
def _bind_isolation(task: object, **_: object) -> None:
    # Runs after tenant_schemas_celery switched the schema (it connected first).
    from django.db import connection

    from maibot import context

    schema = getattr(connection, "schema_name", None)
    task._isolation_token = context.set_isolation(  # type: ignore[attr-defined]
        tenant=None if schema == "public" else schema, agent=None, platform=None, stream=None
    )


@task_postrun.connect(weak=False)
def _unbind_isolation(task: object, **_: object) -> None:
    from maibot import context

    token = getattr(task, "_isolation_token", None)
    if token is not None:
        try:
            context.reset(token)
        except ValueError:  # reset from another context; clear instead
            context.set_isolation(tenant=None, agent=None, platform=None, stream=None)
