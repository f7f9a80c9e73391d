"""Thin, idempotent tasks: each takes ids and calls one service.

Task names are explicit and the ones they had before the deliveries package: the routes, the beat schedule
and messages already queued use them.
"""

from celery import shared_task
from django.conf import settings

from renewal.deliveries import services
from renewal.deliveries.unbind import unbind_coalesce
from renewal.models import Delivery, DeliveryState


@shared_task(name="renewal.tasks.batch_sweep_task", acks_late=True, reject_on_worker_lost=True)
def batch_sweep_task() -> list[int]:
    return services.batch_sweep()


@shared_task(name="renewal.tasks.deliveries_dispatch_task", acks_late=True, reject_on_worker_lost=True)
def deliveries_dispatch_task(batch_id: int) -> int:
    """Enqueue a new batch's deliveries, one chunk of them per run; the next run is enqueued by this one."""
    ids = services.deliveries_claim_due(batch_id=batch_id)
    for delivery_id in ids:
        delivery_send_task.delay(str(delivery_id))
    if len(ids) >= settings.RENEWAL_DISPATCH_CHUNK:
        deliveries_dispatch_task.delay(batch_id)
    return len(ids)


@shared_task(name="renewal.tasks.deliveries_due_task", acks_late=True, reject_on_worker_lost=True)
def deliveries_due_task() -> int:
    """The due sweep: enqueue every pending delivery whose next attempt is due (lost messages included)."""
    ids = services.deliveries_claim_due()
    for delivery_id in ids:
        delivery_send_task.delay(str(delivery_id))
    if len(ids) >= settings.RENEWAL_DISPATCH_CHUNK:
        deliveries_due_task.delay()
    return len(ids)


# One attempt per message: the row owns the retry schedule, never the broker.
@shared_task(name="renewal.tasks.delivery_send_task", acks_late=True, reject_on_worker_lost=True)
def delivery_send_task(delivery_id: str) -> str:
    return services.delivery_attempt(delivery_id=delivery_id)


@shared_task(name="renewal.unbind.unbind_coalesce_task", acks_late=True, reject_on_worker_lost=True)
def unbind_coalesce_task() -> int:
    """Coalesce waiting unbind tasks, then hand each new delivery to the outbox's sender (one attempt each)."""
    ids = unbind_coalesce()
    for delivery_id in Delivery.objects.filter(pk__in=ids, state=DeliveryState.PENDING).values_list("pk", flat=True):
        # The same sender as every delivery, on the queue of work a person is waiting for.
        delivery_send_task.apply_async(args=(str(delivery_id),), queue="interactive")
    return len(ids)
