"""The lifecycle's periodic task. Task names are explicit: routes, the beat schedule and queued messages use them."""

from celery import shared_task

from numbers.services import release_sweep
from numbers.snapshots import snapshots_take


@shared_task(name="numbers.tasks.release_sweep_task", acks_late=True, reject_on_worker_lost=True)
def release_sweep_task() -> int:
    return release_sweep()


@shared_task(name="numbers.tasks.daily_snapshot_task", acks_late=True, reject_on_worker_lost=True)
def daily_snapshot_task() -> int:
    """Write yesterday's stock figures (run shortly after midnight; running it again rewrites the same day)."""
    return snapshots_take()
