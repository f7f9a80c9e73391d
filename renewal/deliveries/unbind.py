"""Unbind requests through the outbox: the coalescer, and the confirmation of answered deliveries.

An unbind request writes one task per platform in its own transaction: the tasks are its outbox rows
(renewal.active). The coalescer (a beat task every UNBIND_COALESCE_SECONDS) claims each platform's
unassigned tasks with a conditional UPDATE into ONE `unbind.request` delivery of the outbox, which sends,
signs and retries it (the pump takes them before batches). So N requests within one window become one delivery
per platform.
"""

import uuid
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from renewal.models import Delivery, DeliveryEvent, DeliveryPriority, DeliveryState, Platform, UnbindResult, UnbindTask

MAX_TASKS_PER_DELIVERY = 1000


# A delivery waits for these: no result yet, or the portal's own `no_answer` (a platform may still answer).
OPEN_FOR_DELIVERY = [UnbindResult.PENDING, UnbindResult.NO_ANSWER]


def unbind_coalesce(*, now: datetime | None = None) -> list[uuid.UUID]:
    """Claim every platform's unassigned tasks into one delivery per platform (per 1,000 tasks); return their ids.

    Each delivery is committed with its claimed tasks before the next, due at once and ahead of batches in the
    pump's claim (`unbind_coalesce_task` kicks the pump).
    """
    now = now or timezone.now()
    platform_ids = list(
        UnbindTask.objects.filter(delivery__isnull=True, platform__status="live")
        .values_list("platform_id", flat=True).distinct()
    )
    created = []
    for platform in Platform.objects.filter(pk__in=platform_ids):
        while True:
            claimed = _coalesce_one(platform, now)
            if claimed is None:
                break
            created.append(claimed)
    return created


@transaction.atomic
def _coalesce_one(platform: Platform, now: datetime) -> uuid.UUID | None:
    pull_only = platform.is_pull_only
    delivery = Delivery.objects.create(
        event=DeliveryEvent.UNBIND, platform=platform, created_at=now,
        # A pull-only platform reads its deliveries through the API: there is nothing to POST.
        state=DeliveryState.SENT if pull_only else DeliveryState.PENDING,
        sent_at=now if pull_only else None,
        next_attempt_at=None if pull_only else now,
        priority=DeliveryPriority.INTERACTIVE,  # a person is waiting
    )
    batch = (UnbindTask.objects.filter(platform=platform, delivery__isnull=True)
             .order_by("created_at", "id").values("pk")[:MAX_TASKS_PER_DELIVERY])
    # Compare-and-swap: a concurrent coalescer's claimed rows fail `delivery IS NULL` and are skipped.
    claimed = UnbindTask.objects.filter(pk__in=batch, delivery__isnull=True).update(delivery=delivery)
    if not claimed:
        transaction.set_rollback(True)
        return None
    return delivery.pk


def unbind_deliveries_confirm(deliveries: QuerySet[Delivery], now: datetime) -> int:
    """Confirm unbind deliveries every task of which has a platform result."""
    unanswered = UnbindTask.objects.filter(delivery=OuterRef("pk"), result__in=OPEN_FOR_DELIVERY)
    # Test deliveries have no task rows: their results are on the row (renewal.active.services).
    return (deliveries.filter(event=DeliveryEvent.UNBIND, test=False,
                              state__in=[DeliveryState.PENDING, DeliveryState.SENT, DeliveryState.DEAD])
            .exclude(Exists(unanswered))
            .update(state=DeliveryState.CONFIRMED, confirmed_at=now, claimed_until=None, next_attempt_at=None))
