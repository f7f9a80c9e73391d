from celery import shared_task

from numbers.services import release_sweep


@shared_task(acks_late=True, reject_on_worker_lost=True)
def release_sweep_task() -> int:
    return release_sweep()


# --- feed uploads (issue 3) ---


@shared_task(acks_late=True, reject_on_worker_lost=True)
def feed_upload_process_task(upload_id: int) -> None:
    from numbers.feed import feed_upload_process

    feed_upload_process(upload_id=upload_id)
