"""The feed upload task. Its name is the one it had before the feeds package: queued messages keep working."""

from celery import shared_task
from django.conf import settings
from django.utils import translation

from numbers.feeds.services import feed_upload_process


@shared_task(name="numbers.tasks.feed_upload_process_task", acks_late=True, reject_on_worker_lost=True)
def feed_upload_process_task(upload_id: int, language: str | None = None) -> None:
    # The report's message column in the uploader's language (None: LANGUAGE_CODE, as messages queued before).
    with translation.override(language or settings.LANGUAGE_CODE):
        feed_upload_process(upload_id=upload_id)
