"""Publish a task now, and know when the broker could not take it.

A broker can refuse a message: the embedded broker's disk is full (portal/fsbroker.py raises ChannelError), or
Redis or RabbitMQ cannot be reached (kombu raises OperationalError once its retries are spent). Each caller then
decides what a person sees: `enqueue` raises QueueUnavailable, for work that nothing else would start (the page
says so and nothing is left half-recorded); `enqueue_or_log` logs and goes on, for work a sweep starts anyway.
"""

import logging

from celery import current_app
from django.utils.translation import gettext as _
from kombu.exceptions import ChannelError, OperationalError

from numbers.errors import DomainError

log = logging.getLogger(__name__)

BROKER_ERRORS = (ChannelError, OperationalError)
RETRY_AFTER_SECONDS = 60


class QueueUnavailable(DomainError):
    code = "queue_unavailable"


def _publish(task_name: str, args: tuple[object, ...], options: dict[str, object]) -> None:
    current_app.signature(task_name, args=args, **options).apply_async()


def enqueue(task_name: str, *args: object, **options: object) -> None:
    """Publish the task (its queue is the task's route); raise QueueUnavailable if the broker refuses it."""
    try:
        _publish(task_name, args, options)
    except BROKER_ERRORS as exc:
        log.error("task not queued: the broker refused it", extra={
            "event": "enqueue_failed", "task": task_name, "error": f"{exc.__class__.__name__}: {exc}"})
        raise QueueUnavailable(_("The portal cannot queue work just now, so nothing was started. Please try again "
                                 "in a few minutes.")) from exc


def enqueue_or_log(task_name: str, *args: object, **options: object) -> bool:
    """Publish the task; if the broker refuses it, log that and return False (for work a sweep starts anyway)."""
    try:
        _publish(task_name, args, options)
    except BROKER_ERRORS as exc:
        log.warning("task not queued: the broker refused it; a sweep starts the work later", extra={
            "event": "enqueue_failed", "task": task_name, "error": f"{exc.__class__.__name__}: {exc}"})
        return False
    return True
