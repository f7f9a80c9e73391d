"""The Celery app, the beat schedule of the sweeps, and what every task does around its run.

Around each task: the log lines carry its id (and the id of the web request that enqueued it); a periodic task
records its heartbeats (beat when it sends one, a worker when it finishes one: readiness and /metrics read them).
"""

import glob
import logging
import os
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import (
    after_task_publish,
    beat_init,
    before_task_publish,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
)

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
    # Batch renewal: new batches, and starting the pump when a pending delivery is due (retries, expired leases).
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
# Customers' signatures are kept SIGNATURE_RETENTION_DAYS, then deleted.
app.conf.beat_schedule["signature-retention"] = {"task": "numbers.tasks.signature_retention_task", "schedule": 3600.0}
app.conf.beat_schedule["unbind-deadline-sweep"] = {
    "task": "renewal.unbind.unbind_deadline_sweep_task", "schedule": SWEEP_EVERY,
}
# Attempts of long-confirmed deliveries (RENEWAL_ATTEMPT_RETENTION_DAYS), hourly.
app.conf.beat_schedule["delivery-attempts-prune"] = {
    "task": "renewal.tasks.delivery_attempts_prune_task", "schedule": 3600.0,
}

# Live platforms whose deliveries keep dying are flagged to administrators (the platform list), hourly.
app.conf.beat_schedule["platforms-dying"] = {
    "task": "renewal.conformance.platforms_dying_task", "schedule": 3600.0,
}

# Housekeeping: expired sessions (a subscriber's code request makes one), and the reports' retention.
app.conf.beat_schedule["sessions-clear"] = {"task": "numbers.tasks.sessions_clear_task", "schedule": 3600.0}
# Platforms whose deliveries started dying are told (e-mail or SMS, as each platform chose).
app.conf.beat_schedule["platform-alerts"] = {"task": "renewal.onboarding.platform_alerts_task", "schedule": 300.0}
app.conf.beat_schedule["reports-retention"] = {
    "task": "renewal.active.reports_retention_task", "schedule": 24 * 3600.0,
}


def periodic_tasks() -> dict[str, float]:
    """Return {task name: seconds between runs} of beat's schedule (the shortest, for a task listed twice)."""
    out: dict[str, float] = {}
    for entry in app.conf.beat_schedule.values():
        schedule = entry["schedule"]
        seconds = _seconds_between_runs(schedule)
        out[entry["task"]] = min(seconds, out.get(entry["task"], seconds))
    return out


def _seconds_between_runs(schedule: Any) -> float:
    if isinstance(schedule, int | float):
        return float(schedule)
    if getattr(schedule, "run_every", None) is not None:
        return float(schedule.run_every.total_seconds())
    # A crontab: the time between its next two firings (the second counted from just after the first).
    now = schedule.now()
    first = now + schedule.remaining_estimate(now)
    second = now + schedule.remaining_estimate(first + timedelta(minutes=1))
    return (second - first).total_seconds()


log = logging.getLogger("portal.celery")


@setup_logging.connect
def _use_django_logging(**kwargs: Any) -> None:
    """Workers and beat log through the project's LOGGING (JSON in production), not Celery's own handlers."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@before_task_publish.connect
def _carry_request_id(headers: dict | None = None, **kwargs: Any) -> None:
    """A task enqueued while serving a request carries the request's id into its own log lines."""
    from portal.logs import request_id

    current = request_id.get()
    if current and headers is not None:
        headers.setdefault("portal_request_id", current)


_context_tokens: dict[str, tuple] = {}


@task_prerun.connect
def _task_context(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    from portal.logs import request_id
    from portal.logs import task_id as task_id_var

    if task_id is None:
        return
    carried = getattr(task.request, "portal_request_id", None) if task is not None else None
    # Inline (eager) tasks run inside the caller's request: they keep its id.
    _context_tokens[task_id] = (task_id_var.set(task_id), request_id.set(carried or request_id.get()))


_BEAT = {"running": False}


@beat_init.connect
def _in_beat(**kwargs: Any) -> None:
    _BEAT["running"] = True


@after_task_publish.connect
def _beat_heartbeat(sender: str | None = None, **kwargs: Any) -> None:
    """In beat: record that it sent a periodic task."""
    if not _BEAT["running"] or sender not in periodic_tasks():
        return
    try:
        from numbers.heartbeats import heartbeat_sent

        heartbeat_sent(task=sender, interval_seconds=periodic_tasks()[sender])
    except Exception:  # noqa: BLE001  (beat keeps sending; readiness will say beat is stale)
        log.exception("heartbeat of %s not recorded", sender)


@worker_init.connect
def _clear_multiprocess_metrics(**kwargs: Any) -> None:
    """A worker starting afresh starts its counters afresh (its folder holds only its own processes' files)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for path in glob.glob(os.path.join(folder, "*.db")):
            os.unlink(path)


@task_postrun.connect
def _drop_unusable_connections(task=None, task_id=None, **kwargs):
    """Keep connections across tasks (CELERY_DB_REUSE_MAX), but close broken or expired ones, as Django
    does after each request (CONN_MAX_AGE, CONN_HEALTH_CHECKS). A periodic task records its heartbeat first."""
    tokens = _context_tokens.pop(task_id, None)
    if tokens:
        from portal.logs import request_id
        from portal.logs import task_id as task_id_var

        try:
            task_id_var.reset(tokens[0])
            request_id.reset(tokens[1])
        except ValueError:  # set in another context (a pool thread): clear instead
            task_id_var.set(None)
            request_id.set(None)
    if task is None or getattr(task.request, "is_eager", False):
        return  # inline in tests: the test's transaction owns the connection
    from django.db import connections

    if task.name in periodic_tasks():
        try:
            from numbers.heartbeats import heartbeat_ran

            heartbeat_ran(task=task.name)
        except Exception:  # noqa: BLE001  (the task ran; readiness will say the workers are stale)
            log.exception("heartbeat of %s not recorded", task.name)

    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()
