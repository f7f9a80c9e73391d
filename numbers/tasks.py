from celery import shared_task

from numbers.services import release_sweep


@shared_task(acks_late=True, reject_on_worker_lost=True)
def release_sweep_task() -> int:
    return release_sweep()
