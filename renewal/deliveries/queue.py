"""The outbox's tasks, enqueued by name after commit.

The services enqueue these tasks and the tasks call the services: by name, neither module imports the other.
The names are the tasks' explicit, stable names (renewal/deliveries/tasks.py); RenewalConfig.ready registers the
tasks in every process, so that tests run them inline and web processes send them to the broker.
"""

from celery import current_app
from django.db import transaction

DISPATCH = "renewal.tasks.deliveries_dispatch_task"
DUE = "renewal.tasks.deliveries_due_task"
SEND = "renewal.tasks.delivery_send_task"


def after_commit(task_name: str, *args: object, queue: str | None = None) -> None:
    """Enqueue the task once the current transaction commits (at once outside a transaction)."""
    options = {"queue": queue} if queue else {}
    transaction.on_commit(lambda: current_app.signature(task_name, args=args, **options).apply_async())
