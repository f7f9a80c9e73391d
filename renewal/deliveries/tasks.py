"""Thin, idempotent tasks: each takes ids and calls one service.

Task names are explicit. The ones of before the pump keep their names (routes, the beat schedule and messages
already queued use them) and now start the pump or make one attempt.
"""

from celery import shared_task

from renewal.deliveries import queue, services
from renewal.deliveries.unbind import unbind_coalesce


@shared_task(name="renewal.tasks.batch_sweep_task", acks_late=True, reject_on_worker_lost=True)
def batch_sweep_task() -> list[int]:
    return services.batch_sweep()


@shared_task(name="renewal.tasks.deliveries_pump_task", acks_late=True, reject_on_worker_lost=True)
def deliveries_pump_task(slot: int, token: str | None = None) -> bool:
    """One slice of the pump in a slot; the next link of the chain is enqueued while deliveries are due."""
    token = services.deliveries_pump(slot=slot, token=token)
    if token is not None:
        queue.send(queue.PUMP, slot, token)
    return token is not None


@shared_task(name="renewal.tasks.deliveries_dispatch_task", acks_late=True, reject_on_worker_lost=True)
def deliveries_dispatch_task(batch_id: int) -> None:
    """Start the pump for a new batch (messages queued before the pump; new batches kick the pump directly)."""
    queue.pump_kick()


@shared_task(name="renewal.tasks.deliveries_due_task", acks_late=True, reject_on_worker_lost=True)
def deliveries_due_task() -> bool:
    """The due sweep: start the pump if a pending delivery is due (retries, and leases of killed workers)."""
    return services.deliveries_due_kick()


# One attempt, now: the row owns the retry schedule, never the broker.
@shared_task(name="renewal.tasks.delivery_send_task", acks_late=True, reject_on_worker_lost=True)
def delivery_send_task(delivery_id: str) -> str:
    return services.delivery_send(delivery_id=delivery_id)


@shared_task(name="renewal.tasks.delivery_attempts_prune_task", acks_late=True, reject_on_worker_lost=True)
def delivery_attempts_prune_task() -> int:
    return services.delivery_attempts_prune()


@shared_task(name="renewal.unbind.unbind_coalesce_task", acks_late=True, reject_on_worker_lost=True)
def unbind_coalesce_task() -> int:
    """Coalesce waiting unbind tasks into deliveries, then start the pump (they go before batches)."""
    ids = unbind_coalesce()
    if ids:
        queue.pump_kick()
    return len(ids)
