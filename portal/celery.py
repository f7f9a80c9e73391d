"""The Celery app and the beat schedule of the sweeps."""

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import task_postrun

import portal.fsbroker  # noqa: F401  (registers the embedded broker's transport, portalfs://)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each package whose tasks.py holds tasks, named explicitly (autodiscovery looks only where it is told).
app.autodiscover_tasks(["numbers", "numbers.feeds", "numbers.oversight", "renewal.deliveries", "renewal.active"])

# Seconds between runs of each periodic sweep (the sweeps are idempotent and cheap when idle).
SWEEP_EVERY = float(os.environ.get("SWEEP_INTERVAL_SECONDS", "30"))

app.conf.beat_schedule = {
    "release-sweep": {"task": "numbers.tasks.release_sweep_task", "schedule": SWEEP_EVERY},
    # Batch renewal: new batches, and pending deliveries whose next attempt is due (lost messages too).
    "batch-sweep": {"task": "renewal.tasks.batch_sweep_task", "schedule": SWEEP_EVERY},
    "deliveries-due": {"task": "renewal.tasks.deliveries_due_task", "schedule": min(SWEEP_EVERY, 15.0)},
}

# Active renewal: gather unbind tasks into one delivery per platform, and time out unanswered ones.
# The dashboard's stock figures of the day that just ended, shortly after local midnight (CELERY_TIMEZONE).
app.conf.beat_schedule["daily-snapshot"] = {
    "task": "numbers.tasks.daily_snapshot_task", "schedule": crontab(hour=0, minute=5),
}

app.conf.beat_schedule["unbind-coalesce"] = {
    "task": "renewal.unbind.unbind_coalesce_task",
    "schedule": float(os.environ.get("UNBIND_COALESCE_SECONDS", "3")),
}
app.conf.beat_schedule["unbind-deadline-sweep"] = {
    "task": "renewal.unbind.unbind_deadline_sweep_task", "schedule": SWEEP_EVERY,
}


@task_postrun.connect
def _drop_unusable_connections(task=None, **kwargs):
    """Keep connections across tasks (CELERY_DB_REUSE_MAX), but close broken or expired ones, as Django
    does after each request (CONN_MAX_AGE, CONN_HEALTH_CHECKS)."""
    if task is None or getattr(task.request, "is_eager", False):
        return  # inline in tests: the test's transaction owns the connection
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()
