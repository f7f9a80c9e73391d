"""The lifecycle's periodic task. Task names are explicit: routes, the beat schedule and queued messages use them."""

from celery import shared_task

from numbers.services import disclosure_signatures_prune, release_sweep
from numbers.snapshots import snapshots_take


@shared_task(name="numbers.tasks.release_sweep_task", acks_late=True, reject_on_worker_lost=True)
def release_sweep_task() -> int:
    return release_sweep()


@shared_task(name="numbers.tasks.sessions_clear_task", acks_late=True, reject_on_worker_lost=True)
def sessions_clear_task() -> None:
    """Delete expired sessions (every sign-in code request makes one): Django's `clearsessions`."""
    from django.core.management import call_command

    call_command("clearsessions")


@shared_task(name="numbers.tasks.signature_retention_task", acks_late=True, reject_on_worker_lost=True)
def signature_retention_task() -> int:
    """Delete customers' signatures past SIGNATURE_RETENTION_DAYS, a chunk per run (beat runs it daily)."""
    return disclosure_signatures_prune()


@shared_task(name="numbers.tasks.daily_snapshot_task", acks_late=True, reject_on_worker_lost=True)
def daily_snapshot_task() -> int:
    """Write yesterday's stock figures (run shortly after midnight; running it again rewrites the same day)."""
    return snapshots_take()
