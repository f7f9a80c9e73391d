"""The outbox's tasks, enqueued by name after commit.

The services enqueue these tasks and the tasks call the services: by name, neither module imports the other.
The names are the tasks' explicit, stable names (renewal/deliveries/tasks.py); RenewalConfig.ready registers the
tasks in every process, so that tests run them inline and web processes send them to the broker.
"""

from celery import current_app
from django.conf import settings
from django.db import transaction

from numbers import queueing

PUMP = "renewal.tasks.deliveries_pump_task"


def send(task_name: str, *args: object) -> None:
    """Enqueue the task now (its queue is the task's route)."""
    current_app.signature(task_name, args=args).apply_async()


def pump_kick() -> None:
    """Start the pump: one task per slot; a slot whose chain is running ignores it (renewal.deliveries.pump).

    A kick the broker refuses (its disk is full, it is down) is logged, never an error for the caller: the
    deliveries it was for are pending rows, due now, and the due sweep starts the pump for them on its next tick.
    So a retry, a ping or a new batch is recorded and the person who asked sees it succeed.
    """
    for slot in range(settings.RENEWAL_PUMP_TASKS):
        if not queueing.enqueue_or_log(PUMP, slot):
            return  # the other slots' kicks would be refused alike


def pump_after_commit() -> None:
    """Start the pump once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(pump_kick)
