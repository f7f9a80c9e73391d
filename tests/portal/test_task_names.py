"""Every route and every beat entry names a task that exists: a stale name would silently misroute work.

A route whose task was renamed sends nothing anywhere (the SMS task would wait behind batch work on the
default queue); a beat entry whose task was renamed is sent and never run.
"""

from django.conf import settings

from portal.celery import app

# The names queued messages, routes and the beat schedule already use: they must never change.
STABLE_NAMES = {
    "numbers.tasks.release_sweep_task",
    "numbers.tasks.feed_upload_process_task",
    "numbers.tasks.daily_snapshot_task",
    "numbers.oversight.risk_list_apply_task",
    "renewal.tasks.batch_sweep_task",
    "renewal.tasks.deliveries_dispatch_task",
    "renewal.tasks.deliveries_due_task",
    "renewal.tasks.delivery_send_task",
    "renewal.tasks.deliveries_pump_task",
    "renewal.tasks.delivery_attempts_prune_task",
    "renewal.unbind.unbind_coalesce_task",
    "renewal.unbind.unbind_deadline_sweep_task",
    "renewal.sms.sms_code_send_task",
    "numbers.tasks.sessions_clear_task",
    "renewal.active.reports_retention_task",
    "renewal.active.unbind_summary_send_task",
    "renewal.active.sms_send_task",
    "renewal.onboarding.platform_alerts_task",
    "numbers.tasks.signature_retention_task",
    "renewal.conformance.conformance_check_task",
    "renewal.conformance.platforms_dying_task",
}


def _registered() -> set[str]:
    app.loader.import_default_modules()  # what a worker does at start: autodiscover every package's tasks
    return {name for name in app.tasks if not name.startswith("celery.")}


def test_the_portals_tasks_keep_their_names():
    assert _registered() == STABLE_NAMES


def test_every_route_names_a_registered_task():
    assert set(settings.CELERY_TASK_ROUTES) <= _registered()


def test_every_beat_entry_names_a_registered_task():
    assert {entry["task"] for entry in app.conf.beat_schedule.values()} <= _registered()
